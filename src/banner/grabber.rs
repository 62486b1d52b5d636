//! The grab workers: open ports go in as they are found, identified ports come out, with at
//! most `concurrency` grabs at once. Threads start as work arrives, so a scan with few open
//! ports starts few.

use super::tls::Configs;
use super::{Identified, Options, session};
use crate::event::{PortResult, Proto};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// An open port waiting for its banner, with the caller's tag (its place in the scan).
pub struct Job {
    pub result: PortResult,
    pub tag: Option<u64>,
    /// Reported without a grab: the scan was interrupted first (a resumed run grabs it).
    pub cancelled: bool,
}

pub struct Grabber {
    opts: Arc<Options>,
    configs: Arc<Configs>,
    jobs: Option<Sender<Job>>,
    queue: Arc<Mutex<Receiver<Job>>>,
    done_tx: Sender<Job>,
    done: Receiver<Job>,
    workers: Vec<JoinHandle<()>>,
    pending: usize,
    cancel: Arc<AtomicBool>,
}

impl Grabber {
    pub fn new(opts: Options) -> Result<Grabber, String> {
        let (jobs, queue) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        Ok(Grabber {
            opts: Arc::new(opts),
            configs: Arc::new(Configs::new()?),
            jobs: Some(jobs),
            queue: Arc::new(Mutex::new(queue)),
            done_tx,
            done,
            workers: Vec::new(),
            pending: 0,
            cancel: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Grabs are waiting or running.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Queues `job` (an open TCP port).
    pub fn submit(&mut self, job: Job) {
        self.pending += 1;
        if self.workers.len() < self.opts.concurrency.max(1) && self.workers.len() < self.pending {
            self.spawn();
        }
        let job = match &self.jobs {
            Some(tx) if !self.workers.is_empty() => match tx.send(job) {
                Ok(()) => return,
                Err(mpsc::SendError(job)) => job,
            },
            _ => job,
        };
        // No worker could start: grab here.
        let done = run(job, &self.opts, &self.configs, &self.cancel);
        let _ = self.done_tx.send(done);
    }

    fn spawn(&mut self) {
        let queue = self.queue.clone();
        let done = self.done_tx.clone();
        let opts = self.opts.clone();
        let configs = self.configs.clone();
        let cancel = self.cancel.clone();
        let spawned = std::thread::Builder::new()
            .name("synscan-banner".into())
            .spawn(move || {
                loop {
                    // The lock is held only to take one job.
                    let job = match queue.lock() {
                        Ok(q) => q.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    if done.send(run(job, &opts, &configs, &cancel)).is_err() {
                        return;
                    }
                }
            });
        if let Ok(h) = spawned {
            self.workers.push(h);
        }
    }

    /// A finished job, if one is ready.
    pub fn try_next(&mut self) -> Option<Job> {
        let j = self.done.try_recv().ok()?;
        self.pending -= 1;
        Some(j)
    }

    /// The next finished job, waiting at most `wait` for it.
    pub fn wait_next(&mut self, wait: std::time::Duration) -> Option<Job> {
        if self.pending == 0 {
            return None;
        }
        let j = self.done.recv_timeout(wait).ok()?;
        self.pending -= 1;
        Some(j)
    }

    /// Jobs not yet started finish at once, named from the table (an interrupted scan).
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

impl Drop for Grabber {
    fn drop(&mut self) {
        self.cancel();
        self.jobs = None;
        for h in self.workers.drain(..) {
            let _ = h.join();
        }
    }
}

fn run(mut job: Job, opts: &Options, configs: &Configs, cancel: &AtomicBool) -> Job {
    let r = &job.result;
    let (ip, port, proto) = (r.ip, r.port, r.proto);
    let id = if cancel.load(Ordering::Relaxed) || proto != Proto::Tcp {
        job.cancelled = true;
        Identified::table(port, proto)
    } else {
        // A panic in a grab (a TLS or certificate library bug) must not lose the port: its
        // result comes back named from the table.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            session::grab(ip, port, opts, configs)
        }))
        .unwrap_or_else(|_| Identified::table(port, proto))
    };
    job.result.service = Some(Box::new(id));
    job
}
