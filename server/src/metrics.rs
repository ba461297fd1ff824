//! Prometheus metrics of push delivery, served at `/metrics`.

use prometheus::{
    HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Push counters and the dispatch-latency histogram.
#[derive(Clone)]
pub struct PushMetrics {
    registry: Registry,
    /// Pushes by provider (`fcm`, `webpush`) and event (`sent`, `delivered`, `retried`,
    /// `expired`, `pruned`, `failed`, `prune_suspended`).
    pub pushes: IntCounterVec,
    /// Seconds from the notification being committed to the provider accepting the push.
    pub dispatch_latency: HistogramVec,
    /// Pending outbox rows, refreshed at each scrape.
    pub outbox_depth: IntGauge,
    /// 1 while a provider's prune breaker is open (see [`super::breaker`]): alert on it.
    pub pruning_suspended: IntGaugeVec,
    /// Webhooks by event (`sent`, `delivered`, `retried`, `expired`).
    pub webhooks: IntCounterVec,
    /// Pending webhooks, refreshed at each scrape.
    pub webhook_outbox_depth: IntGauge,
    /// Texts and emails by channel (`sms`, `email`) and event (`sent`, `delivered`, `retried`,
    /// `expired`, `failed`, `cancelled`).
    pub messages: IntCounterVec,
    /// Segments of the texts a carrier accepted, by encoding (`gsm7`, `ucs2`): what texts cost.
    pub sms_segments: IntCounterVec,
    /// Pending texts and emails by channel, refreshed at each scrape.
    pub message_outbox_depth: IntGaugeVec,
}

impl Default for PushMetrics {
    fn default() -> PushMetrics {
        let registry = Registry::new();
        let pushes = IntCounterVec::new(
            Opts::new(
                "gatebell_pushes_total",
                "Push attempts and outcomes by provider",
            ),
            &["provider", "event"],
        )
        .expect("valid metric");
        let dispatch_latency = HistogramVec::new(
            HistogramOpts::new(
                "gatebell_push_dispatch_seconds",
                "From notification commit to provider acceptance",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0,
            ]),
            &["provider"],
        )
        .expect("valid metric");
        let outbox_depth =
            IntGauge::new("gatebell_outbox_depth", "Pending push jobs").expect("valid metric");
        let pruning_suspended = IntGaugeVec::new(
            Opts::new(
                "gatebell_push_pruning_suspended",
                "1 while most recent answers of a provider would prune devices (a configuration fault)",
            ),
            &["provider"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(pruning_suspended.clone()))
            .expect("unique metric");
        registry
            .register(Box::new(pushes.clone()))
            .expect("unique metric");
        registry
            .register(Box::new(dispatch_latency.clone()))
            .expect("unique metric");
        registry
            .register(Box::new(outbox_depth.clone()))
            .expect("unique metric");
        let webhooks = IntCounterVec::new(
            Opts::new(
                "gatebell_webhooks_total",
                "Webhook attempts and outcomes by event",
            ),
            &["event"],
        )
        .expect("valid metric");
        let webhook_outbox_depth =
            IntGauge::new("gatebell_webhook_outbox_depth", "Pending webhooks")
                .expect("valid metric");
        registry
            .register(Box::new(webhooks.clone()))
            .expect("unique metric");
        registry
            .register(Box::new(webhook_outbox_depth.clone()))
            .expect("unique metric");
        let messages = IntCounterVec::new(
            Opts::new(
                "gatebell_messages_total",
                "SMS and email attempts and outcomes by channel",
            ),
            &["channel", "event"],
        )
        .expect("valid metric");
        let message_outbox_depth = IntGaugeVec::new(
            Opts::new(
                "gatebell_message_outbox_depth",
                "Pending texts and emails by channel",
            ),
            &["channel"],
        )
        .expect("valid metric");
        let sms_segments = IntCounterVec::new(
            Opts::new(
                "gatebell_sms_segments_total",
                "Segments of the texts the SMS provider accepted, by encoding (gsm7: 160 characters a segment, 153 once split; ucs2: 70, then 67)",
            ),
            &["encoding"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(sms_segments.clone()))
            .expect("unique metric");
        registry
            .register(Box::new(messages.clone()))
            .expect("unique metric");
        registry
            .register(Box::new(message_outbox_depth.clone()))
            .expect("unique metric");
        PushMetrics {
            messages,
            sms_segments,
            message_outbox_depth,
            webhooks,
            webhook_outbox_depth,
            registry,
            pushes,
            dispatch_latency,
            outbox_depth,
            pruning_suspended,
        }
    }
}

impl PushMetrics {
    /// Counts one event.
    pub fn count(&self, provider: &str, event: &str) {
        self.pushes.with_label_values(&[provider, event]).inc();
    }

    /// The text exposition format.
    /// Adds a metric kept elsewhere (the JWT key set's refresh failures) to what `/metrics`
    /// shows.
    pub fn register(&self, metric: prometheus::IntCounter) -> Result<(), prometheus::Error> {
        self.registry.register(Box::new(metric))
    }

    pub fn render(&self) -> String {
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_default()
    }
}
