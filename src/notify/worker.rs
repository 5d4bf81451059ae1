//! The delivery worker: a tokio task that claims due outbox rows with a lease, delivers a few
//! at a time, and records each attempt. It never runs on a request's path; requests only
//! insert rows. Several server processes on one PostgreSQL each run one, and the claim
//! (`FOR UPDATE SKIP LOCKED` plus the lease) hands every row to exactly one of them.

use super::email::{Email, Envelope};
use super::pace::Pace;
use super::push::{PushMessage, PushSender, Target, Vapid};
use super::retry::{Next, after_failure};
use super::sms::SmsSender;
use super::smtp::SmtpSender;
use super::webhook::WebhookSender;
use super::{SendError, Sms, kind};
use crate::clock::Clock;
use crate::config::Config;
use crate::ids::BookingId;
use crate::model::booking::BookingStatus;
use crate::store::outbox::{Claimed, Outcome};
use crate::store::{Store, StoreError};
use crate::telemetry::Metrics;
use chrono::Duration;
use futures_util::StreamExt;
use prometheus::{IntCounterVec, IntGaugeVec, Opts};
use std::sync::Arc;

/// Rows claimed per round, all delivered at once: every claimed row is being worked on, so
/// none waits out its lease in a queue.
const BATCH: u32 = 4;
const CONCURRENCY: usize = BATCH as usize;
const CHANNELS: [&str; 4] = ["email", "sms", "push", "webhook"];
/// How often the queued-messages gauge is recounted.
const GAUGE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The outbox counters and gauges of `/metrics`.
#[derive(Clone)]
pub struct NotifyMetrics {
    queued: IntGaugeVec,
    delivered: IntCounterVec,
    retried: IntCounterVec,
    failed: IntCounterVec,
    dropped: IntCounterVec,
}

impl NotifyMetrics {
    pub fn new(m: &Metrics) -> Self {
        let counter = |name: &str, help: &str| {
            let c = IntCounterVec::new(Opts::new(name, help), &["channel"]).expect("valid metric");
            m.register(Box::new(c.clone()));
            for ch in CHANNELS {
                c.with_label_values(&[ch]);
            }
            c
        };
        let queued = IntGaugeVec::new(
            Opts::new(
                "parlor_notify_queued",
                "Outbox messages waiting for delivery (due or not), by channel",
            ),
            &["channel"],
        )
        .expect("valid metric");
        m.register(Box::new(queued.clone()));
        for ch in CHANNELS {
            queued.with_label_values(&[ch]);
        }
        Self {
            queued,
            delivered: counter(
                "parlor_notify_delivered_total",
                "Outbox messages accepted by their receiver, by channel",
            ),
            retried: counter(
                "parlor_notify_retried_total",
                "Delivery attempts that failed and will be tried again, by channel",
            ),
            failed: counter(
                "parlor_notify_failed_total",
                "Outbox messages given up (refused, or out of time), by channel",
            ),
            dropped: counter(
                "parlor_notify_dropped_total",
                "Outbox messages no longer wanted when due (a reminder of a moved or cancelled session), by channel",
            ),
        }
    }

    fn count(&self, channel: &str, o: &Outcome) {
        let c = match o {
            Outcome::Delivered => &self.delivered,
            Outcome::Retry(..) => &self.retried,
            Outcome::Failed(_) => &self.failed,
            Outcome::Dropped(_) => &self.dropped,
        };
        c.with_label_values(&[channel]).inc();
    }
}

/// The delivery worker of this process.
pub struct Worker {
    store: Store,
    clock: Clock,
    config: Arc<Config>,
    metrics: NotifyMetrics,
    smtp: Option<SmtpSender>,
    envelope: Option<Envelope>,
    sms: Option<SmsSender>,
    push: PushSender,
    vapid: Arc<Vapid>,
    webhooks: WebhookSender,
    /// This process's name on the leases it takes.
    owner: String,
}

impl Worker {
    /// A worker for this process; email is sent when `notify.smtp` is configured, SMS when
    /// `notify.sms` is.
    pub fn new(
        store: Store,
        clock: Clock,
        config: Arc<Config>,
        metrics: NotifyMetrics,
        vapid: Arc<Vapid>,
    ) -> Result<Self, super::smtp::SmtpSetupError> {
        let smtp_cfg = &config.notify.smtp;
        let (smtp, envelope) = if smtp_cfg.enabled() {
            let from: lettre::message::Mailbox =
                smtp_cfg
                    .from
                    .parse()
                    .map_err(|e: lettre::address::AddressError| {
                        super::smtp::SmtpSetupError::Tls(e.to_string())
                    })?;
            let envelope = Envelope {
                reply_to: smtp_cfg.reply_to.parse().ok(),
                id_host: from.email.domain().to_string(),
                from,
            };
            (Some(SmtpSender::new(smtp_cfg)?), Some(envelope))
        } else {
            (None, None)
        };
        let sms = if config.notify.sms.enabled() {
            Some(SmsSender::new(&config.notify.sms).map_err(super::smtp::SmtpSetupError::Sms)?)
        } else {
            None
        };
        let pc = &config.notify.push;
        let push = PushSender::new(
            std::time::Duration::from_secs(pc.timeout_secs),
            pc.allow_private,
        );
        let wh = &config.notify.webhooks;
        let webhooks = WebhookSender::new(
            std::time::Duration::from_secs(wh.timeout_secs),
            wh.allow_private,
        );
        Ok(Self {
            store,
            clock,
            config,
            metrics,
            smtp,
            envelope,
            sms,
            push,
            vapid,
            webhooks,
            owner: format!(
                "{}-{}",
                std::process::id(),
                crate::ids::random_base32::<5>()
            ),
        })
    }

    /// Delivers until the task is aborted, at most `notify.max_per_second` messages a second.
    pub async fn run(self) {
        let poll = std::time::Duration::from_millis(self.config.notify.poll_ms);
        let mut pace = Pace::new(self.config.notify.max_per_second, std::time::Instant::now());
        let mut gauges_at: Option<std::time::Instant> = None;
        loop {
            if gauges_at.is_none_or(|t| t.elapsed() >= GAUGE_EVERY) {
                self.refresh_gauges().await;
                gauges_at = Some(std::time::Instant::now());
            }
            let allowed = pace.take(BATCH, std::time::Instant::now());
            if allowed == 0 {
                tokio::time::sleep(pace.wait().max(std::time::Duration::from_millis(1))).await;
                continue;
            }
            match self.round_of(allowed).await {
                Ok(n) => {
                    let n = u32::try_from(n).unwrap_or(allowed);
                    pace.refund(allowed.saturating_sub(n));
                    if n == allowed {
                        continue;
                    }
                }
                Err(e) => {
                    pace.refund(allowed);
                    tracing::warn!(error = %e, "outbox: cannot claim messages");
                }
            }
            tokio::time::sleep(poll).await;
        }
    }

    async fn refresh_gauges(&self) {
        if let Ok(counts) = self.store.outbox_counts("queued").await {
            for ch in CHANNELS {
                let n = counts
                    .iter()
                    .find(|c| c.channel == ch)
                    .map_or(0, |c| c.count);
                self.metrics
                    .queued
                    .with_label_values(&[ch])
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
        }
    }

    /// Claims and delivers one batch; how many rows it claimed.
    pub async fn round(&self) -> Result<usize, StoreError> {
        self.round_of(BATCH).await
    }

    /// Claims and delivers up to `limit` due rows; how many it claimed.
    async fn round_of(&self, limit: u32) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let lease = Duration::seconds(i64::from(self.config.notify.lease_secs));
        let rows = self
            .store
            .claim_due(&self.owner, now, now + lease, limit.min(BATCH))
            .await?;
        let n = rows.len();
        let lease_limit = lease.to_std().unwrap_or_default().mul_f64(0.8);
        futures_util::stream::iter(rows)
            .for_each_concurrent(CONCURRENCY, |row| async move {
                // Finished (or given up) well inside the lease, so no other worker takes the
                // row while this one still sends it.
                let outcome = match tokio::time::timeout(lease_limit, self.attempt(&row)).await {
                    Ok(o) => o,
                    Err(_) => self.retry_or_give_up(
                        &row,
                        format!("not finished within {} s", lease_limit.as_secs()),
                    ),
                };
                let now = self.clock.now();
                match self
                    .store
                    .finish_attempt(&row, &self.owner, &outcome, now)
                    .await
                {
                    Ok(true) => {
                        self.metrics.count(&row.channel, &outcome);
                        log_outcome(&row, &outcome);
                    }
                    Ok(false) => tracing::warn!(
                        id = %row.id,
                        "outbox: the lease ran out during delivery; another worker has the message"
                    ),
                    Err(e) => tracing::warn!(id = %row.id, error = %e, "outbox: cannot record the attempt"),
                }
            })
            .await;
        Ok(n)
    }

    async fn attempt(&self, row: &Claimed) -> Outcome {
        if let Some(why) = self.unwanted(row).await {
            return Outcome::Dropped(why);
        }
        if self.clock.now() >= row.give_up_at {
            return Outcome::Failed("out of time before it could be sent".into());
        }
        let result = match row.channel.as_str() {
            "email" => self.send_email(row).await,
            "sms" => self.send_sms(row).await,
            "push" => match self.send_push(row).await {
                Ok(r) => r,
                Err(why) => return Outcome::Dropped(why),
            },
            "webhook" => match self.send_webhook(row).await {
                Ok(r) => r,
                Err(why) => return Outcome::Dropped(why),
            },
            other => Err(SendError::Final(format!(
                "no {other} delivery is configured on this server"
            ))),
        };
        match result {
            Ok(()) => Outcome::Delivered,
            Err(SendError::Final(e)) => Outcome::Failed(e),
            Err(SendError::Retry(e)) => self.retry_or_give_up(row, e),
        }
    }

    /// The next try after a failure worth retrying, or giving up when out of time.
    fn retry_or_give_up(&self, row: &Claimed, e: String) -> Outcome {
        let now = self.clock.now();
        let jitter = f64::from(crate::ids::random_bytes::<1>()[0]) / 256.0;
        match after_failure(row.attempts + 1, now, row.give_up_at, jitter) {
            Next::RetryAt(at) => Outcome::Retry(at, e),
            Next::GiveUp => Outcome::Failed(format!("gave up: {e}")),
        }
    }

    /// Why a due reminder is no longer wanted, if it is not: its session was cancelled,
    /// moved or has begun, or its recipient turned reminders off.
    async fn unwanted(&self, row: &Claimed) -> Option<String> {
        if row.kind != kind::REMINDER {
            return None;
        }
        if let Some(b) = &row.booking_id {
            match self.store.booking(&BookingId(b.clone())).await {
                Ok(b) if b.status != BookingStatus::Scheduled => {
                    return Some(format!("the session is {}", b.status.as_str()));
                }
                Ok(b) if b.starts_at <= self.clock.now() => {
                    return Some("the session has begun".into());
                }
                Ok(_) => {}
                Err(StoreError::NotFound) => return Some("the booking is gone".into()),
                // Unknown: the attempt goes ahead (a reminder too many beats none).
                Err(_) => {}
            }
        }
        let u = row.user_id.as_deref()?;
        if row.channel == "sms" {
            return match self.store.sms_number(u).await {
                Ok(Some(n)) if n == row.recipient => None,
                Ok(Some(_)) => Some("the recipient changed their number".into()),
                Ok(None) => Some("the recipient turned SMS reminders off".into()),
                Err(_) => None,
            };
        }
        match self.store.wants_reminders(u).await {
            Ok(false) => Some("the recipient turned reminders off".into()),
            _ => None,
        }
    }

    /// Sends a Web Push message; `Err` when it is no longer wanted (its subscription was
    /// removed).
    async fn send_push(&self, row: &Claimed) -> Result<Result<(), SendError>, String> {
        let sub = match self.store.push_subscription(&row.recipient).await {
            Ok(s) => s,
            Err(StoreError::NotFound) => return Err("the subscription was removed".into()),
            Err(e) => {
                return Ok(Err(SendError::Retry(format!(
                    "reading the subscription: {e}"
                ))));
            }
        };
        let message: PushMessage = match serde_json::from_str(&row.payload) {
            Ok(m) => m,
            Err(e) => {
                return Ok(Err(SendError::Final(format!(
                    "stored push is unreadable: {e}"
                ))));
            }
        };
        let now = self.clock.now();
        // Kept by the push service until the message is no longer worth showing.
        let ttl =
            u64::try_from((row.give_up_at - now).num_seconds().clamp(60, 24 * 3600)).unwrap_or(60);
        let urgency = if row.kind == kind::COACH_JOINED {
            "high"
        } else {
            "normal"
        };
        let target = Target {
            endpoint: &sub.endpoint,
            p256dh: &sub.p256dh,
            auth: &sub.auth,
        };
        match self
            .push
            .send(&self.vapid, &target, &message, ttl, urgency, now)
            .await
        {
            Ok(()) => Ok(Ok(())),
            Err(f) => {
                if f.gone
                    && let Err(e) = self.store.expire_push_subscription(&sub.id, now).await
                {
                    tracing::warn!(id = %row.id, error = %e, "outbox: cannot remove an expired subscription");
                }
                Ok(Err(f.error))
            }
        }
    }

    async fn send_sms(&self, row: &Claimed) -> Result<(), SendError> {
        let Some(sms) = &self.sms else {
            return Err(SendError::Retry(
                "SMS is not configured on this server (notify.sms.account_sid)".into(),
            ));
        };
        let msg: Sms = serde_json::from_str(&row.payload)
            .map_err(|e| SendError::Final(format!("stored SMS is unreadable: {e}")))?;
        match sms.send(&row.recipient, &msg.body).await {
            Ok(()) => Ok(()),
            Err(f) => {
                if f.code == Some(super::sms::UNSUBSCRIBED)
                    && let Some(u) = &row.user_id
                    && let Err(e) = self.store.stop_sms(u).await
                {
                    tracing::warn!(id = %row.id, error = %e, "outbox: cannot turn SMS reminders off");
                }
                Err(f.error)
            }
        }
    }

    /// Sends a webhook; `Err` when it is no longer wanted (its endpoint was deleted or
    /// turned off).
    async fn send_webhook(&self, row: &Claimed) -> Result<Result<(), SendError>, String> {
        let (endpoint, secret) = match self.store.endpoint_with_secret(&row.recipient).await {
            Ok(e) => e,
            Err(StoreError::NotFound) => return Err("the endpoint was deleted".into()),
            Err(e) => return Ok(Err(SendError::Retry(format!("reading the endpoint: {e}")))),
        };
        if !endpoint.active {
            return Err("the endpoint is turned off".into());
        }
        let now = self.clock.now();
        let sent = self
            .webhooks
            .send(
                &endpoint.url,
                &secret,
                &row.id,
                now.timestamp(),
                &row.payload,
            )
            .await;
        let noted = match &sent {
            Ok(()) => self.store.webhook_ok(&endpoint.id).await,
            Err(f) if f.gone => {
                let limit = self.config.notify.webhooks.disable_after;
                match self.store.webhook_gone(&endpoint.id, limit, now).await {
                    Ok(true) => {
                        tracing::warn!(endpoint = %endpoint.id, "webhooks: the endpoint answered 410 Gone {limit} times in a row; turned off");
                        Ok(())
                    }
                    other => other.map(|_| ()),
                }
            }
            Err(_) => Ok(()),
        };
        if let Err(e) = noted {
            tracing::warn!(endpoint = %endpoint.id, error = %e, "webhooks: cannot record the endpoint's answer");
        }
        Ok(sent.map_err(|f| f.error))
    }

    async fn send_email(&self, row: &Claimed) -> Result<(), SendError> {
        let (Some(smtp), Some(env)) = (&self.smtp, &self.envelope) else {
            return Err(SendError::Retry(
                "email is not configured on this server (notify.smtp.host)".into(),
            ));
        };
        let mail: Email = serde_json::from_str(&row.payload)
            .map_err(|e| SendError::Final(format!("stored email is unreadable: {e}")))?;
        let message = mail
            .to_message(env, &row.id, self.clock.now())
            .map_err(|e| SendError::Final(e.to_string()))?;
        smtp.send(message).await
    }
}

/// The delivery worker running on a thread of its own.
pub struct WorkerThread {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    join: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    /// Runs the worker on its own OS thread, with a single-threaded runtime, at a lower CPU
    /// priority (nice +10): its work (SQL, MIME, TLS) never waits in a request thread's task
    /// queue, and when the cores are busy the scheduler serves request threads first. The
    /// database pool and the clock are shared with the server.
    pub fn spawn_thread(self) -> std::io::Result<WorkerThread> {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let join = std::thread::Builder::new()
            .name("parlor-outbox".into())
            .spawn(move || {
                lower_priority();
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!(error = %e, "outbox: cannot start the delivery thread's runtime");
                        return;
                    }
                };
                rt.block_on(async move {
                    tokio::select! {
                        () = self.run() => {}
                        _ = stopped => {}
                    }
                });
            })?;
        Ok(WorkerThread {
            stop: Some(stop),
            join: Some(join),
        })
    }
}

impl WorkerThread {
    /// Stops the worker (a message it was sending is sent again by the next start, once its
    /// lease runs out) and waits for the thread to end.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(j) = self.join.take() {
            let _ = tokio::task::spawn_blocking(move || j.join()).await;
        }
    }
}

impl Drop for WorkerThread {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Lowers the calling thread's CPU priority (nice +10; on Linux the nice value is per
/// thread). Failing to is harmless: the worker still runs, at normal priority.
fn lower_priority() {
    // SAFETY: gettid and setpriority take plain integers and touch no memory of ours.
    let rc = unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10)
    };
    if rc != 0 {
        tracing::debug!("outbox: could not lower the delivery thread's priority");
    }
}

fn log_outcome(row: &Claimed, o: &Outcome) {
    match o {
        Outcome::Delivered => {
            tracing::info!(id = %row.id, channel = %row.channel, kind = %row.kind, "outbox: delivered")
        }
        Outcome::Retry(at, e) => tracing::warn!(
            id = %row.id, channel = %row.channel, kind = %row.kind, attempt = row.attempts + 1,
            retry_at = %at, error = %e, "outbox: delivery failed; will retry"
        ),
        Outcome::Failed(e) => tracing::warn!(
            id = %row.id, channel = %row.channel, kind = %row.kind, error = %e,
            "outbox: delivery failed for good"
        ),
        Outcome::Dropped(why) => {
            tracing::info!(id = %row.id, kind = %row.kind, why = %why, "outbox: dropped")
        }
    }
}
