//! The pool that password hashing (argon2id: ~50 ms of a core and 19 MiB each) runs on.
//!
//! At most `auth.hash_concurrency` hashes run at once (default: the number of cores) on
//! tokio's blocking threads, and at most `auth.hash_queue` more wait; beyond that a request
//! is refused at once (503 with `Retry-After`) instead of queueing without bound, so a flood of
//! sign-ups or logins costs the server a fixed amount of CPU and memory and the rest of the
//! service keeps its latency.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Semaphore;

/// Too many password operations are running and waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

pub struct HashPool {
    running: Arc<Semaphore>,
    /// Operations admitted (running or waiting).
    admitted: AtomicUsize,
    max_admitted: usize,
}

impl HashPool {
    /// `concurrency` 0 means the number of cores.
    pub fn new(concurrency: usize, queue: usize) -> Self {
        let concurrency = if concurrency == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            concurrency
        };
        Self {
            running: Arc::new(Semaphore::new(concurrency)),
            admitted: AtomicUsize::new(0),
            max_admitted: concurrency + queue,
        }
    }

    /// Runs `f` on a blocking thread when a slot is free, or refuses when the queue is full.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let admitted = self.admitted.fetch_add(1, Ordering::AcqRel);
        let _ticket = Ticket(&self.admitted);
        if admitted >= self.max_admitted {
            return Err(Busy);
        }
        let _permit = self
            .running
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        Ok(tokio::task::spawn_blocking(f)
            .await
            .expect("password hashing does not panic"))
    }
}

/// Gives the admission back however `run` ends (also when its caller is cancelled).
struct Ticket<'a>(&'a AtomicUsize);

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn beyond_the_queue_work_is_refused_and_the_pool_recovers() {
        let pool = Arc::new(HashPool::new(1, 1));
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        let mut held = Vec::new();
        for _ in 0..2 {
            let (p, rx) = (pool.clone(), rx.clone());
            held.push(tokio::spawn(async move {
                p.run(move || rx.lock().unwrap().recv().unwrap()).await
            }));
        }
        // Wait until both are admitted (one running, one queued).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while pool.admitted.load(Ordering::Acquire) < 2 {
            assert!(tokio::time::Instant::now() < deadline, "never admitted");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(pool.run(|| ()).await, Err(Busy), "the third is refused");
        tx.send(()).unwrap();
        tx.send(()).unwrap();
        for h in held {
            assert_eq!(h.await.unwrap(), Ok(()));
        }
        assert_eq!(pool.run(|| 7).await, Ok(7), "capacity is back");
    }
}
