//! A namespace's bridge FDB changes as rtnetlink reports them, each timed as it arrives:
//! how long an EVPN advertisement or withdrawal takes to reach the other host.

use std::fs::File;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_route::neighbour::{NeighbourAttribute, NeighbourMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use nix::sched::{setns, CloneFlags};

use super::net::readable;
use super::{wait_for, Mac, Netns};

/// RTMGRP_NEIGH, <linux/rtnetlink.h>: neighbour (and bridge FDB) notifications.
const RTMGRP_NEIGH: u32 = 4;

/// A bridge FDB change as rtnetlink reports it.
#[derive(Debug)]
pub struct FdbEvent {
    pub added: bool,
    pub mac: String,
    pub port: u32,
    /// A bridge entry (`master br0`), not a VXLAN device's own (`self`).
    pub master: bool,
}

/// FDB changes in a namespace, read and timed as they arrive by a thread of their own,
/// subscribed before `open` returns so that nothing done afterwards is missed.
pub struct FdbWatch {
    events: Arc<Mutex<Vec<(Instant, FdbEvent)>>>,
    /// How many of `events` a `wait` has already passed over.
    seen: usize,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FdbWatch {
    pub fn open(ns: &Netns) -> Self {
        let path = format!("/run/netns/{}", ns.name);
        let (events, stop) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(false)));
        let (ready, subscribed) = std::sync::mpsc::channel();
        let (sink, done) = (events.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            setns(File::open(&path).unwrap(), CloneFlags::CLONE_NEWNET).expect("setns");
            let mut socket = Socket::new(NETLINK_ROUTE).unwrap();
            socket.bind(&SocketAddr::new(0, RTMGRP_NEIGH)).unwrap();
            ready.send(()).unwrap();
            let mut buf = Vec::with_capacity(64 * 1024);
            while !done.load(Ordering::Relaxed) {
                if !readable(socket.as_fd(), Duration::from_millis(50)) {
                    continue;
                }
                buf.clear();
                socket.recv(&mut buf, 0).expect("recv rtnetlink");
                let at = Instant::now();
                sink.lock()
                    .unwrap()
                    .extend(parse(&buf).into_iter().map(|e| (at, e)));
            }
        });
        subscribed.recv().expect("watch thread");
        Self {
            events,
            seen: 0,
            stop,
            thread: Some(thread),
        }
    }

    /// Waits up to `secs` for a change after the last one a `wait` returned that `want`
    /// accepts; returns when it arrived.
    pub fn wait(&mut self, secs: f64, mut want: impl FnMut(&FdbEvent) -> bool) -> Option<Instant> {
        let mut found = None;
        wait_for(secs, || {
            let events = self.events.lock().unwrap();
            let hit = events[self.seen..].iter().position(|(_, e)| want(e));
            found = hit.map(|i| (self.seen + i, events[self.seen + i].0));
            found.is_some()
        });
        let (index, at) = found?;
        self.seen = index + 1;
        Some(at)
    }
}

impl FdbWatch {
    /// Every change seen so far, for a failure message.
    pub fn dump(&self) -> String {
        let events = self.events.lock().unwrap();
        events.iter().map(|(at, e)| format!("{at:?} {e:?}\n")).collect()
    }
}

impl Drop for FdbWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn parse(mut bytes: &[u8]) -> Vec<FdbEvent> {
    let mut events = Vec::new();
    while let Ok(message) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes) {
        let size = (message.header.length as usize + 3) & !3;
        bytes = bytes.get(size.max(4)..).unwrap_or_default();
        let (added, neigh) = match message.payload {
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewNeighbour(n)) => (true, n),
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelNeighbour(n)) => (false, n),
            _ => continue,
        };
        if neigh.header.family == AddressFamily::Bridge {
            events.push(event(added, neigh));
        }
    }
    events
}

fn event(added: bool, neigh: NeighbourMessage) -> FdbEvent {
    let mut mac = String::new();
    let mut master = false;
    for attribute in &neigh.attributes {
        match attribute {
            NeighbourAttribute::LinkLayerAddress(a) if a.len() == 6 => {
                mac = Mac(a[..].try_into().unwrap()).to_string();
            }
            NeighbourAttribute::Controller(_) => master = true,
            _ => {}
        }
    }
    FdbEvent {
        added,
        mac,
        port: neigh.header.ifindex,
        master,
    }
}
