//! The publisher task: owns the connection, the channel and the spool, and does one thing at a
//! time (publish a batch, spool it, replay the spool, reconnect), so ordering needs no locks.
//!
//! Owns the state machine. Must not encode records (the facade did) or talk to the broker's
//! protocol directly: `broker` does.

use std::{sync::atomic::Ordering, sync::Arc, time::Duration};

use futures_util::StreamExt as _;
use lapin::Event;
use tokio::{task::JoinHandle, time::Instant};

use super::{
    broker::close_quietly, broker::connect, broker::publish_round, broker::EventStream,
    broker::Fate, broker::RoundOutcome, broker::Up, open_spool, stats::AmqpStats, stats::LinkState,
    Command, Settings, MAX_BACKOFF_DOUBLINGS, NACK_RETRIES, NACK_RETRY_DELAY, REPEAT_LOG_INTERVAL,
    REPLAY_CHUNK_BYTES, REPLAY_CHUNK_MESSAGES, WRITE_WAITS_FOR_CONNECTION,
};
use crate::output::sink::spool::Spool;
use crate::output::sink::spool::SpoolError;
use crate::output::sink::wire::OutMessage;
use tokio::sync::mpsc;

pub(super) enum Link {
    Down { retry_at: Instant },
    Connecting(JoinHandle<Result<(Box<Up>, EventStream), String>>),
    Up(Box<Up>),
}

/// What the main loop woke up for.
pub(super) enum Wake {
    Command(Option<Command>),
    Event(Option<Event>),
    Connected(Result<(Box<Up>, EventStream), String>),
    Retry,
    Replay,
}

pub(super) struct Publisher {
    pub(super) settings: Arc<Settings>,
    pub(super) stats: Arc<AmqpStats>,
    /// `None` only while a blocking spool operation runs, or after one failed badly (then it
    /// is reopened from disk at the next use).
    pub(super) spool: Option<Spool>,
    pub(super) link: Link,
    /// Events of the current connection (blocked, unblocked, errors); `Some` while `Up`.
    pub(super) events: Option<EventStream>,
    /// Failed connection attempts since the last confirmed publish.
    pub(super) attempts: u32,
    /// No replay before this instant (after a nack).
    pub(super) replay_hold: Instant,
    pub(super) last_unreachable_log: Option<Instant>,
    pub(super) last_drop_log: Option<Instant>,
    pub(super) last_return_log: Option<Instant>,
    pub(super) last_spool_error_log: Option<Instant>,
}

/// What the link has next: the retry time while down, the connection attempt's result while
/// connecting, and while up the connection's next event, or the replay's turn when one is
/// ready and its hold has passed.
async fn link_wake(
    link: &mut Link,
    events: &mut Option<EventStream>,
    replay_ready: bool,
    hold: Instant,
) -> Wake {
    match link {
        Link::Down { retry_at } => {
            tokio::time::sleep_until(*retry_at).await;
            Wake::Retry
        }
        Link::Connecting(handle) => Wake::Connected(match handle.await {
            Ok(result) => result,
            Err(e) => Err(format!("connection task failed: {e}")),
        }),
        Link::Up(_) => {
            let next_event = async {
                match events {
                    Some(events) => events.next().await,
                    None => None,
                }
            };
            if replay_ready {
                tokio::select! {
                    biased;
                    event = next_event => Wake::Event(event),
                    _ = tokio::time::sleep_until(hold) => Wake::Replay,
                }
            } else {
                Wake::Event(next_event.await)
            }
        }
    }
}

impl Publisher {
    pub(super) fn spawn(
        settings: Arc<Settings>,
        stats: Arc<AmqpStats>,
        spool: Option<Spool>,
    ) -> (mpsc::Sender<Command>, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(1);
        let publisher = Self {
            settings,
            stats,
            spool,
            link: Link::Down {
                retry_at: Instant::now(),
            },
            events: None,
            attempts: 0,
            replay_hold: Instant::now(),
            last_unreachable_log: None,
            last_drop_log: None,
            last_return_log: None,
            last_spool_error_log: None,
        };
        (tx, tokio::spawn(publisher.run(rx)))
    }

    pub(super) async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        // Dropping the sink without `close` closes the command channel: the task then closes
        // the connection and ends; the spool on disk is consistent at every step.
        self.start_connecting();
        let mut last_was_write = false;
        loop {
            let replay_ready = self.spool.as_ref().is_some_and(|s| !s.is_empty())
                && matches!(&self.link, Link::Up(up) if !up.is_blocked());
            let hold = self.replay_hold;
            // Fairness: after a write, a due replay step goes first, so a steady stream of
            // writes (appended behind the spool) cannot starve the replay.
            if replay_ready && last_was_write && hold <= Instant::now() {
                last_was_write = false;
                self.replay_chunk().await;
                continue;
            }
            last_was_write = false;
            let wake = tokio::select! {
                biased;
                command = commands.recv() => Wake::Command(command),
                wake = link_wake(&mut self.link, &mut self.events, replay_ready, hold) => wake,
            };
            match wake {
                Wake::Command(None) => {
                    // The sink was dropped without `close`.
                    self.shutdown_link().await;
                    return;
                }
                Wake::Command(Some(Command::Write { messages, reply })) => {
                    last_was_write = true;
                    let result = self.handle_write(messages).await;
                    if result.is_ok() && self.stats.spool_write_error().is_some() {
                        tracing::info!(spool = %self.settings.spool_dir.display(), "amqp spool writable again");
                        self.stats.set_spool_write_error(None);
                    }
                    let _ = reply.send(result);
                }
                Wake::Command(Some(Command::Close { reply })) => {
                    self.handle_close().await;
                    let _ = reply.send(());
                    return;
                }
                Wake::Event(event) => self.handle_event(event),
                Wake::Connected(Ok((up, events))) => self.on_connected(up, events),
                Wake::Connected(Err(error)) => self.on_connect_failed(&error),
                Wake::Retry => self.start_connecting(),
                Wake::Replay => self.replay_chunk().await,
            }
        }
    }

    pub(super) fn start_connecting(&mut self) {
        let settings = self.settings.clone();
        self.stats.set_state(LinkState::Connecting);
        self.link = Link::Connecting(tokio::spawn(async move {
            match tokio::time::timeout(settings.connect_timeout, connect(&settings)).await {
                Ok(result) => result,
                Err(_) => Err(format!(
                    "no connection within {:?}",
                    settings.connect_timeout
                )),
            }
        }));
    }

    pub(super) fn on_connected(&mut self, up: Box<Up>, events: EventStream) {
        AmqpStats::add(&self.stats.connections, 1);
        let blocked = up.is_blocked();
        self.stats.set_state(if blocked {
            LinkState::Blocked
        } else {
            LinkState::Connected
        });
        let spooled = self.spool.as_ref().map_or(0, Spool::records);
        tracing::info!(url = %self.settings.url, exchange = %self.settings.exchange, spooled, blocked, "amqp connected");
        self.last_unreachable_log = None;
        self.link = Link::Up(up);
        self.events = Some(events);
    }

    pub(super) fn on_connect_failed(&mut self, error: &str) {
        self.attempts = self.attempts.saturating_add(1);
        let delay = self.backoff_delay();
        let now = Instant::now();
        let spooled = self.spool.as_ref().map_or(0, Spool::records);
        if self
            .last_unreachable_log
            .is_none_or(|t| now.duration_since(t) >= REPEAT_LOG_INTERVAL)
        {
            self.last_unreachable_log = Some(now);
            tracing::warn!(url = %self.settings.url, attempts = self.attempts, retry_in = ?delay, spooled, %error, "amqp broker unreachable; spooling records");
        } else {
            tracing::debug!(url = %self.settings.url, attempts = self.attempts, retry_in = ?delay, %error, "amqp connection attempt failed");
        }
        self.stats.set_state(LinkState::Down);
        self.link = Link::Down {
            retry_at: now + delay,
        };
    }

    /// Jittered exponential backoff: half the step plus a random share of the other half.
    pub(super) fn backoff_delay(&self) -> Duration {
        let doublings = self.attempts.saturating_sub(1).min(MAX_BACKOFF_DOUBLINGS);
        let step = self
            .settings
            .backoff_base
            .saturating_mul(1u32 << doublings)
            .min(self.settings.backoff_cap);
        let half = step / 2;
        half + half.mul_f64(fastrand::f64())
    }

    /// Drops the connection (its unconfirmed messages are the caller's to spool) and schedules
    /// a reconnection.
    pub(super) fn link_lost(&mut self, reason: &str) {
        if let Link::Up(up) = std::mem::replace(
            &mut self.link,
            Link::Down {
                retry_at: Instant::now(),
            },
        ) {
            tracing::warn!(url = %self.settings.url, %reason, "amqp connection lost; spooling records and reconnecting");
            tokio::spawn(close_quietly(*up));
        }
        self.events = None;
        self.attempts = self.attempts.saturating_add(1);
        self.link = Link::Down {
            retry_at: Instant::now() + self.backoff_delay(),
        };
        self.stats.set_state(LinkState::Down);
        self.stats.unconfirmed_messages.store(0, Ordering::Relaxed);
    }

    pub(super) fn set_blocked(&mut self, blocked: bool, reason: &str) {
        if let Link::Up(up) = &mut self.link {
            if up.blocked != blocked {
                up.blocked = blocked;
                if blocked {
                    tracing::warn!(url = %self.settings.url, %reason, "amqp broker blocked publishing (resource alarm); spooling records");
                } else {
                    tracing::info!(url = %self.settings.url, "amqp broker unblocked publishing");
                }
            }
            self.stats.set_state(if up.is_blocked() {
                LinkState::Blocked
            } else {
                LinkState::Connected
            });
        }
    }

    pub(super) fn handle_event(&mut self, event: Option<Event>) {
        match event {
            Some(Event::ConnectionBlocked(reason)) => self.set_blocked(true, &reason),
            Some(Event::ConnectionUnblocked) => self.set_blocked(false, ""),
            Some(Event::SendFlow(active)) => self.set_blocked(!active, "channel flow paused"),
            Some(Event::Error(error)) => self.link_lost(&error.to_string()),
            None => self.link_lost("connection event stream ended"),
            Some(_) => {}
        }
    }

    /// Waits (at most until `deadline`) for a connection attempt in progress to finish.
    pub(super) async fn await_connecting(&mut self, deadline: Instant) {
        if let Link::Connecting(handle) = &mut self.link {
            if let Ok(joined) = tokio::time::timeout_at(deadline, handle).await {
                match joined {
                    Ok(Ok((up, events))) => self.on_connected(up, events),
                    Ok(Err(error)) => self.on_connect_failed(&error),
                    Err(e) => self.on_connect_failed(&format!("connection task failed: {e}")),
                }
            }
        }
    }

    pub(super) async fn handle_write(
        &mut self,
        messages: Vec<OutMessage>,
    ) -> Result<u64, std::io::Error> {
        if matches!(self.link, Link::Down { retry_at } if retry_at <= Instant::now()) {
            self.start_connecting();
        }
        self.await_connecting(Instant::now() + WRITE_WAITS_FOR_CONNECTION)
            .await;
        let spool_waiting = self.spool.as_ref().is_none_or(|s| !s.is_empty());
        let can_publish = matches!(&self.link, Link::Up(up) if !up.is_blocked());
        if spool_waiting || !can_publish {
            return self.spool_messages(messages).await;
        }
        let mut todo: Vec<usize> = (0..messages.len()).collect();
        let mut unconfirmed: Vec<usize> = Vec::new();
        let mut delivered = 0u64;
        for attempt in 0..=NACK_RETRIES {
            let outcome = match &self.link {
                Link::Up(up) if !up.is_blocked() => {
                    let round: Vec<&OutMessage> = todo.iter().map(|&i| &messages[i]).collect();
                    publish_round(up, &self.settings, &self.stats, &round).await
                }
                _ => {
                    unconfirmed.append(&mut todo);
                    break;
                }
            };
            let mut nacked = Vec::new();
            for (&i, fate) in todo.iter().zip(&outcome.fates) {
                match fate {
                    Fate::Confirmed => delivered += u64::from(messages[i].records),
                    Fate::Returned => {}
                    Fate::Nacked => nacked.push(i),
                    Fate::Unconfirmed => unconfirmed.push(i),
                }
            }
            self.after_round(&outcome, todo.iter().map(|&i| &messages[i]));
            if nacked.is_empty() {
                break;
            }
            if attempt == NACK_RETRIES {
                tracing::warn!(
                    messages = nacked.len(),
                    "amqp broker keeps nacking; spooling them for later"
                );
                unconfirmed.append(&mut nacked);
                break;
            }
            tokio::time::sleep(NACK_RETRY_DELAY * (attempt + 1)).await;
            todo = nacked;
        }
        if unconfirmed.is_empty() {
            return Ok(delivered);
        }
        unconfirmed.sort_unstable();
        let mut slots: Vec<Option<OutMessage>> = messages.into_iter().map(Some).collect();
        let leftovers: Vec<OutMessage> = unconfirmed
            .into_iter()
            .filter_map(|i| slots.get_mut(i).and_then(Option::take))
            .collect();
        Ok(delivered + self.spool_messages(leftovers).await?)
    }

    /// Counts and logs a round's results; drops the link if it failed.
    pub(super) fn after_round<'m>(
        &mut self,
        outcome: &RoundOutcome,
        messages: impl Iterator<Item = &'m OutMessage>,
    ) {
        let mut confirmed = 0;
        let mut returned = 0;
        let mut nacked = 0;
        let mut sample = None;
        for (fate, m) in outcome.fates.iter().zip(messages) {
            match fate {
                Fate::Confirmed => confirmed += u64::from(m.records),
                Fate::Returned => {
                    returned += u64::from(m.records);
                    sample.get_or_insert_with(|| m.routing_key.clone());
                }
                Fate::Nacked => nacked += 1,
                Fate::Unconfirmed => {}
            }
        }
        AmqpStats::add(&self.stats.confirmed_records, confirmed);
        AmqpStats::add(&self.stats.returned_records, returned);
        AmqpStats::add(&self.stats.nacked_messages, nacked);
        if confirmed > 0 {
            self.attempts = 0;
        }
        if let Some(routing_key) = sample {
            let now = Instant::now();
            if self
                .last_return_log
                .is_none_or(|t| now.duration_since(t) >= REPEAT_LOG_INTERVAL)
            {
                self.last_return_log = Some(now);
                tracing::warn!(exchange = %self.settings.exchange, %routing_key, records = returned, total = self.stats.returned_records.load(Ordering::Relaxed), "unroutable records (no queue bound for their routing key); not delivered");
            }
        }
        if outcome.blocked {
            self.set_blocked(true, "connection blocked during publish");
        }
        if let Some(error) = &outcome.link_error {
            self.link_lost(error);
        }
    }

    /// Runs a blocking spool operation off the async runtime; reopens the spool first if an
    /// earlier operation lost it.
    pub(super) async fn with_spool<T: Send + 'static>(
        &mut self,
        op: impl FnOnce(&mut Spool) -> Result<T, SpoolError> + Send + 'static,
    ) -> Result<T, std::io::Error> {
        let mut spool = match self.spool.take() {
            Some(spool) => spool,
            None => open_spool(&self.settings, &self.stats)
                .await
                .map_err(std::io::Error::other)?,
        };
        let joined = tokio::task::spawn_blocking(move || {
            let result = op(&mut spool);
            (spool, result)
        })
        .await;
        match joined {
            Ok((mut spool, result)) => {
                let drops = spool.take_drops();
                AmqpStats::add(&self.stats.dropped_records, drops.full_records);
                AmqpStats::add(&self.stats.damaged_records, drops.damaged_records);
                AmqpStats::add(&self.stats.damaged_bytes, drops.damaged_bytes);
                self.stats
                    .spool_records
                    .store(spool.records(), Ordering::Relaxed);
                self.stats
                    .spool_bytes
                    .store(spool.bytes(), Ordering::Relaxed);
                self.spool = Some(spool);
                result.map_err(std::io::Error::other)
            }
            Err(e) => Err(std::io::Error::other(format!("spool task failed: {e}"))),
        }
    }

    /// Appends to the spool; returns the records it took. An I/O error is returned so the
    /// caller retries the batch (back-pressure) instead of losing it.
    pub(super) async fn spool_messages(
        &mut self,
        messages: Vec<OutMessage>,
    ) -> Result<u64, std::io::Error> {
        if messages.is_empty() {
            return Ok(0);
        }
        let report = match self.with_spool(move |s| s.append(&messages)).await {
            Ok(report) => report,
            Err(e) => {
                let now = Instant::now();
                if self
                    .last_spool_error_log
                    .is_none_or(|t| now.duration_since(t) >= REPEAT_LOG_INTERVAL)
                {
                    self.last_spool_error_log = Some(now);
                    tracing::error!(error = %e, spool = %self.settings.spool_dir.display(), "cannot write the amqp spool; the batch waits in memory and is retried");
                }
                self.stats.set_spool_write_error(Some(e.to_string()));
                return Err(e);
            }
        };
        AmqpStats::add(&self.stats.spooled_records, report.spooled_records);
        if report.dropped_records > 0 {
            let now = Instant::now();
            if self
                .last_drop_log
                .is_none_or(|t| now.duration_since(t) >= REPEAT_LOG_INTERVAL)
            {
                self.last_drop_log = Some(now);
                tracing::error!(
                    dropped_now = report.dropped_records,
                    dropped_total = self.stats.dropped_records.load(Ordering::Relaxed),
                    spool_max_bytes = self.settings.spool_max_bytes,
                    "amqp spool full: oldest spooled records dropped"
                );
            }
        }
        Ok(report.spooled_records)
    }

    /// Publishes the oldest spooled messages and removes those confirmed in order.
    pub(super) async fn replay_chunk(&mut self) {
        let chunk = match self
            .with_spool(|s| s.peek(REPLAY_CHUNK_MESSAGES, REPLAY_CHUNK_BYTES))
            .await
        {
            Ok(chunk) => chunk,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the amqp spool; retrying");
                self.replay_hold = Instant::now() + self.settings.backoff_cap;
                return;
            }
        };
        if chunk.is_empty() {
            return;
        }
        let outcome = match &self.link {
            Link::Up(up) => {
                let round: Vec<&OutMessage> = chunk.iter().collect();
                publish_round(up, &self.settings, &self.stats, &round).await
            }
            _ => return,
        };
        let done = outcome
            .fates
            .iter()
            .take_while(|f| matches!(f, Fate::Confirmed | Fate::Returned))
            .count();
        let replayed: u64 = chunk[..done]
            .iter()
            .zip(&outcome.fates)
            .filter(|(_, f)| **f == Fate::Confirmed)
            .map(|(m, _)| u64::from(m.records))
            .sum();
        AmqpStats::add(&self.stats.replayed_records, replayed);
        let returned: u64 = chunk[..done]
            .iter()
            .zip(&outcome.fates)
            .filter(|(_, f)| **f == Fate::Returned)
            .map(|(m, _)| u64::from(m.records))
            .sum();
        AmqpStats::add(&self.stats.replay_returned_records, returned);
        if outcome.fates.get(done) == Some(&Fate::Nacked) {
            self.replay_hold = Instant::now() + NACK_RETRY_DELAY;
        }
        self.after_round(&outcome, chunk.iter());
        if let Err(e) = self.with_spool(move |s| s.consume(done)).await {
            tracing::error!(error = %e, "cannot update the amqp spool position; some records may be replayed twice");
        }
        if self.spool.as_ref().is_some_and(Spool::is_empty) {
            tracing::info!(
                replayed_total = self.stats.replayed_records.load(Ordering::Relaxed),
                "amqp spool replayed"
            );
        }
    }

    /// At shutdown: replay what the spool holds while the broker takes it (bounded by
    /// `close_timeout`), then close the connection. Whatever is left stays on disk.
    pub(super) async fn handle_close(&mut self) {
        let deadline = Instant::now() + self.settings.close_timeout;
        self.await_connecting(deadline).await;
        while Instant::now() < deadline
            && self.spool.as_ref().is_some_and(|s| !s.is_empty())
            && matches!(&self.link, Link::Up(up) if !up.is_blocked())
        {
            if tokio::time::timeout_at(deadline, self.replay_chunk())
                .await
                .is_err()
            {
                break;
            }
        }
        self.shutdown_link().await;
    }

    pub(super) async fn shutdown_link(&mut self) {
        match std::mem::replace(
            &mut self.link,
            Link::Down {
                retry_at: Instant::now(),
            },
        ) {
            Link::Up(up) => close_quietly(*up).await,
            Link::Connecting(handle) => handle.abort(),
            Link::Down { .. } => {}
        }
        self.events = None;
        self.stats.set_state(LinkState::Closed);
    }
}
