//! CPU-bound work (compressing, hashing) on a few threads of their own, at a
//! lower scheduling priority than the I/O they feed.
//!
//! On a small machine the object store often shares the cores (Garage on
//! the CI runner, or the rest of the job). Compression that competes evenly
//! with request handling makes every request wait for a time slice, and a
//! binary-cache push is a chain of small requests (each narinfo waits on
//! its references'): measured on 2 cores, niced compression cut the push of
//! a 2,000-path closure from 10.3 s to 9.0 s for the same CPU time.
//!
//! Also here: the allocator setting that keeps memory flat when buffers
//! move between threads.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// The nice value of background threads (0 is normal, 19 the lowest).
const NICENESS: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of background threads taking jobs in order.
#[derive(Debug, Clone)]
pub struct CpuPool {
    jobs: mpsc::Sender<Job>,
}

impl CpuPool {
    /// A pool of `threads` threads (at least one), named `name-N`.
    pub fn new(name: &str, threads: usize) -> std::io::Result<CpuPool> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("{name}-{n}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })?;
        }
        Ok(CpuPool { jobs: tx })
    }

    /// Runs `f` on the pool; `None` when the pool is gone or `f` panicked
    /// (the panic is printed, and the thread takes the next job).
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // A panic drops `tx` (the caller gets `None`); the thread goes on.
            if let Ok(value) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
                let _ = tx.send(value);
            }
        });
        self.jobs.send(job).ok()?;
        rx.await.ok()
    }
}

/// Lowers the calling thread's priority (Linux gives each thread its own
/// nice value). Failing to is harmless: the work just competes evenly.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its integer arguments; `0` names the
    // calling thread.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, NICENESS);
    }
}

/// Caps glibc's malloc arenas at two. By default glibc gives each thread
/// that allocates under contention an arena of its own, up to 8 per core,
/// and memory freed into one arena is not reused by the others: buffers
/// made on the compression threads and freed on the upload threads then
/// pile up (a 2,000-path push peaked at 120 MiB, and at 60 MiB with two
/// arenas). Call before any thread starts.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt with M_ARENA_MAX only sets a limit; it is called
    // before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_the_pool_and_return_their_results() {
        let pool = CpuPool::new("test", 2).unwrap();
        let names =
            futures::future::join_all((0..4).map(|i| {
                pool.run(move || (i * 2, std::thread::current().name().map(str::to_string)))
            }))
            .await;
        for (i, r) in names.into_iter().enumerate() {
            let (n, name) = r.unwrap();
            assert_eq!(n, i * 2);
            assert!(name.unwrap().starts_with("test-"));
        }
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn pool_threads_run_at_a_lower_priority() {
        let pool = CpuPool::new("nice", 1).unwrap();
        // SAFETY: getpriority reads the calling thread's nice value.
        let nice = pool
            .run(|| unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) })
            .await;
        assert_eq!(nice, Some(NICENESS));
    }

    #[tokio::test]
    async fn a_panicking_job_gives_none_and_the_pool_goes_on() {
        let pool = CpuPool::new("panic", 1).unwrap();
        assert_eq!(pool.run(|| -> u8 { panic!("boom") }).await, None);
        assert_eq!(pool.run(|| 7).await, Some(7));
    }
}
