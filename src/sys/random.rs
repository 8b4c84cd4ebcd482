//! Random bytes from the kernel, for the tap's address.

use std::io;

pub fn fill(buf: &mut [u8]) -> io::Result<()> {
    // SAFETY: getrandom() writes at most `buf.len()` bytes into `buf`, which is valid
    // and exclusively borrowed for the call.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    match usize::try_from(n) {
        Ok(n) if n == buf.len() => Ok(()),
        Ok(_) => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short getrandom")),
        Err(_) => Err(io::Error::last_os_error()),
    }
}
