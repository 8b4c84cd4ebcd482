//! CPU load for tests of races that only show when the helper is descheduled.

use std::process::{Child, Command, Stdio};

/// Busy loops, one per core, for as long as this lives.
pub struct Load(Vec<Child>);

impl Load {
    pub fn start(n: usize) -> Self {
        Self(
            (0..n)
                .map(|_| {
                    Command::new("sh")
                        .args(["-c", "while :; do :; done"])
                        .stdin(Stdio::null())
                        .spawn()
                        .expect("start a busy loop")
                })
                .collect(),
        )
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
