//! Talking to the broker: connect (credentials from the environment, never logged), declare the
//! exchange and queues, publish a round pipelined and wait for its confirms unless a broker
//! alarm blocks the connection.
//!
//! Owns the AMQP protocol steps and what they hand back (a live link `Up` with its event
//! stream, a round's `RoundOutcome` of per-message `Fate`s). Must not decide what to publish or
//! keep state between rounds.

use std::{
    collections::VecDeque, future::Future, pin::Pin, sync::atomic::Ordering, task::Poll,
    time::Duration,
};

use futures_util::Stream;
use lapin::{
    options::BasicPublishOptions, options::ConfirmSelectOptions, options::ExchangeDeclareOptions,
    options::QueueBindOptions, options::QueueDeclareOptions, types::AMQPValue, types::FieldTable,
    types::LongString, types::ShortString, Channel, Confirmation, Connection, ConnectionProperties,
    Event, ExchangeKind, PublisherConfirm,
};
use tokio::time::Instant;

use crate::{config::AmqpQueueConfig, config::AmqpQueueType};

use super::{stats::AmqpStats, Settings, BLOCKED_POLL_INTERVAL, CLOSE_HANDSHAKE_TIMEOUT};
use crate::output::sink::wire::OutMessage;

pub(super) type EventStream = Pin<Box<dyn Stream<Item = Event> + Send>>;

/// A live connection with its publishing channel. (Its event stream is kept beside it, in
/// the publisher: a stream is not `Sync`, and `Up` is borrowed across awaits.)
pub(super) struct Up {
    pub(super) connection: Connection,
    pub(super) channel: Channel,
    pub(super) blocked: bool,
}

impl Up {
    pub(super) fn is_blocked(&self) -> bool {
        self.blocked || self.connection.status().blocked()
    }
}

/// What happened to one message of a publish round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fate {
    /// Not confirmed: not published, connection lost, or no confirm in time.
    Unconfirmed,
    Confirmed,
    /// Confirmed but unroutable.
    Returned,
    Nacked,
}

pub(super) struct RoundOutcome {
    pub(super) fates: Vec<Fate>,
    /// Why the link must be dropped, if it must.
    pub(super) link_error: Option<String>,
    pub(super) blocked: bool,
}

/// Closes a connection politely, without waiting long or reporting errors.
pub(super) async fn close_quietly(up: Up) {
    let _ = tokio::time::timeout(CLOSE_HANDSHAKE_TIMEOUT, async {
        let _ = up.channel.close(200, "closing".into()).await;
        let _ = up.connection.close(200, "closing".into()).await;
    })
    .await;
}

/// Connects, opens a confirm-mode channel and declares the topology.
pub(super) async fn connect(settings: &Settings) -> Result<(Box<Up>, EventStream), String> {
    let mut uri: lapin::uri::AMQPUri = settings.url.parse().map_err(|e: String| e)?;
    // Credentials: from the environment, never from config, never logged.
    if let Ok(user) = std::env::var(&settings.username_env) {
        uri.authority.userinfo.username = user;
    }
    if let Ok(password) = std::env::var(&settings.password_env) {
        uri.authority.userinfo.password = password;
    }
    let properties = ConnectionProperties::default()
        .with_connection_name(LongString::from(settings.app_id.as_str()));
    let connection = match &settings.tls_ca_pem {
        Some(pem) => {
            let tls = lapin::tcp::OwnedTLSConfig {
                identity: None,
                cert_chain: Some(pem.clone()),
            };
            let runtime = lapin::runtime::default_runtime().map_err(|e| e.to_string())?;
            Connection::connect_uri_with_config(uri, properties, tls, runtime).await
        }
        None => Connection::connect_uri(uri, properties).await,
    }
    .map_err(|e| e.to_string())?;
    let events: EventStream = Box::pin(connection.events_listener());
    let channel = connection
        .create_channel()
        .await
        .map_err(|e| e.to_string())?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    channel
        .exchange_declare(
            settings.exchange.clone(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                passive: !settings.declare_exchange,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .map_err(|e| format!("exchange {}: {e}", settings.exchange))?;
    for queue in &settings.queues {
        declare_queue(&channel, &settings.exchange, queue)
            .await
            .map_err(|e| format!("queue {}: {e}", queue.name))?;
    }
    let blocked = connection.status().blocked();
    Ok((
        Box::new(Up {
            connection,
            channel,
            blocked,
        }),
        events,
    ))
}

/// The `x-…` arguments of a configured queue.
pub fn queue_arguments(queue: &AmqpQueueConfig) -> FieldTable {
    let mut args = FieldTable::default();
    let long = |n: u64| AMQPValue::LongLongInt(i64::try_from(n).unwrap_or(i64::MAX));
    match queue.queue_type {
        AmqpQueueType::Classic => {}
        AmqpQueueType::Quorum => {
            args.insert(
                "x-queue-type".into(),
                AMQPValue::LongString("quorum".into()),
            );
        }
        AmqpQueueType::Stream => {
            args.insert(
                "x-queue-type".into(),
                AMQPValue::LongString("stream".into()),
            );
        }
    }
    if let Some(n) = queue.max_length {
        args.insert("x-max-length".into(), long(n));
    }
    if let Some(n) = queue.max_length_bytes {
        args.insert("x-max-length-bytes".into(), long(n));
    }
    if let Some(ttl) = queue.message_ttl {
        if queue.queue_type == AmqpQueueType::Stream {
            let seconds = ttl.0.as_secs().max(1);
            args.insert(
                "x-max-age".into(),
                AMQPValue::LongString(format!("{seconds}s").into()),
            );
        } else {
            args.insert(
                "x-message-ttl".into(),
                long(u64::try_from(ttl.0.as_millis()).unwrap_or(u64::MAX)),
            );
        }
    }
    if let Some(overflow) = queue.overflow {
        args.insert(
            "x-overflow".into(),
            AMQPValue::LongString(overflow.as_str().into()),
        );
    }
    args
}

pub(super) async fn declare_queue(
    channel: &Channel,
    exchange: &ShortString,
    queue: &AmqpQueueConfig,
) -> Result<(), lapin::Error> {
    channel
        .queue_declare(
            queue.name.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            queue_arguments(queue),
        )
        .await?;
    for key in &queue.bindings {
        channel
            .queue_bind(
                queue.name.as_str().into(),
                exchange.clone(),
                key.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    Ok(())
}

/// A publish on its way: frames queued for the socket, then the broker's confirm awaited.
pub(super) enum InFlight<'a> {
    /// Frames queued; resolves (to the confirm future) once they are written.
    Sending(Pin<Box<dyn Future<Output = lapin::Result<PublisherConfirm>> + Send + 'a>>),
    /// Written; awaiting the broker's ack or nack.
    Sent(PublisherConfirm),
}

/// Publishes `messages` pipelined (at most `max_unconfirmed` on their way at once) and waits
/// for their confirms. Gives up on the connection when a publish fails or nothing progresses
/// for `confirm_timeout`; stops publishing (and leaves what is out unconfirmed) when the broker
/// blocks the connection.
///
/// Pipelining: each `basic_publish` future is polled once right away, which queues its frames
/// and takes its delivery tag in order; the futures are then awaited oldest first, so the
/// connection's I/O thread writes many messages per wake-up instead of one.
pub(super) async fn publish_round(
    up: &Up,
    settings: &Settings,
    stats: &AmqpStats,
    messages: &[&OutMessage],
) -> RoundOutcome {
    let window = settings.max_unconfirmed.max(1);
    let mut round = Pipeline {
        up,
        settings,
        stats,
        out: RoundOutcome {
            fates: vec![Fate::Unconfirmed; messages.len()],
            link_error: None,
            blocked: false,
        },
        in_flight: VecDeque::with_capacity(window.min(messages.len())),
        deadline: Instant::now() + settings.confirm_timeout,
    };
    let options = BasicPublishOptions {
        mandatory: true,
        immediate: false,
    };
    'publish: for (i, message) in messages.iter().enumerate() {
        if up.is_blocked() {
            round.out.blocked = true;
            break;
        }
        while round.in_flight.len() >= window {
            if !round.settle_oldest().await {
                break 'publish;
            }
        }
        let mut publish = Box::pin(up.channel.basic_publish(
            settings.exchange.clone(),
            message.routing_key.as_str().into(),
            options,
            &message.body,
            message.properties(&settings.app_id),
        ));
        let pending = match poll_once(&mut publish).await {
            Poll::Ready(Ok(confirm)) => InFlight::Sent(confirm),
            Poll::Ready(Err(e)) => {
                round.out.link_error = Some(format!("publish failed: {e}"));
                break;
            }
            Poll::Pending => InFlight::Sending(publish),
        };
        AmqpStats::add(&stats.published_messages, 1);
        round.in_flight.push_back((i, pending));
        round.set_gauge();
    }
    if round.out.link_error.is_none() {
        // Blocked on the way: what is still out stays unconfirmed (spooled by the caller; the
        // broker may still take it later, giving a duplicate).
        while !round.in_flight.is_empty() {
            round.set_gauge();
            if !round.settle_oldest().await {
                break;
            }
        }
    }
    round.in_flight.clear();
    round.set_gauge();
    round.out
}

/// One [`publish_round`] in progress: the messages on their way, oldest first, and the fates
/// found so far.
struct Pipeline<'a> {
    up: &'a Up,
    settings: &'a Settings,
    stats: &'a AmqpStats,
    out: RoundOutcome,
    /// (index into the round's messages, the publish on its way).
    in_flight: VecDeque<(usize, InFlight<'a>)>,
    /// When the oldest message on its way has waited too long; moved on at each confirm.
    deadline: Instant,
}

impl Pipeline<'_> {
    /// Waits for the oldest message on its way to be confirmed and notes its fate. False when
    /// the round must stop: the connection is blocked (`out.blocked`) or lost
    /// (`out.link_error`).
    async fn settle_oldest(&mut self) -> bool {
        let Some((j, pending)) = self.in_flight.pop_front() else {
            return true;
        };
        match settle(
            self.up,
            pending,
            self.deadline,
            self.settings.confirm_timeout,
        )
        .await
        {
            Ok(Some(fate)) => {
                self.out.fates[j] = fate;
                self.deadline = Instant::now() + self.settings.confirm_timeout;
                true
            }
            Ok(None) => {
                self.out.blocked = true;
                false
            }
            Err(error) => {
                self.out.link_error = Some(error);
                false
            }
        }
    }

    /// The `unconfirmed_messages` gauge: how many are on their way now.
    fn set_gauge(&self) {
        self.stats
            .unconfirmed_messages
            .store(self.in_flight.len() as u64, Ordering::Relaxed);
    }
}

/// Polls a future once with the current task's waker.
pub(super) async fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *fut).poll(cx))).await
}

pub(super) enum Waited<T> {
    Done(T),
    Blocked,
    TimedOut,
}

/// Awaits `fut` until `deadline`, giving up early when the broker blocks the connection.
pub(super) async fn wait_unless_blocked<F: Future + Unpin>(
    up: &Up,
    mut fut: F,
    deadline: Instant,
) -> Waited<F::Output> {
    loop {
        let step = (Instant::now() + BLOCKED_POLL_INTERVAL).min(deadline);
        match tokio::time::timeout_at(step, &mut fut).await {
            Ok(output) => return Waited::Done(output),
            Err(_) if up.is_blocked() => return Waited::Blocked,
            Err(_) if Instant::now() >= deadline => return Waited::TimedOut,
            Err(_) => {}
        }
    }
}

/// Waits for one publish to be written and confirmed: `Ok(None)` when the broker blocked the
/// connection meanwhile, `Err` when the connection failed or nothing came in time.
pub(super) async fn settle(
    up: &Up,
    pending: InFlight<'_>,
    deadline: Instant,
    timeout: Duration,
) -> Result<Option<Fate>, String> {
    let confirm = match pending {
        InFlight::Sent(confirm) => confirm,
        InFlight::Sending(publish) => match wait_unless_blocked(up, publish, deadline).await {
            Waited::Done(Ok(confirm)) => confirm,
            Waited::Done(Err(e)) => return Err(format!("publish failed: {e}")),
            Waited::Blocked => return Ok(None),
            Waited::TimedOut => {
                return Err(format!(
                    "publish stalled for {timeout:?} (broker blocked or unreachable)"
                ))
            }
        },
    };
    match wait_unless_blocked(up, confirm, deadline).await {
        Waited::Done(Ok(Confirmation::Ack(None) | Confirmation::NotRequested)) => {
            Ok(Some(Fate::Confirmed))
        }
        Waited::Done(Ok(Confirmation::Ack(Some(_)))) => Ok(Some(Fate::Returned)),
        Waited::Done(Ok(Confirmation::Nack(_))) => Ok(Some(Fate::Nacked)),
        Waited::Done(Err(e)) => Err(format!("confirm failed: {e}")),
        Waited::Blocked => Ok(None),
        Waited::TimedOut => Err(format!("no publisher confirm for {timeout:?}")),
    }
}
