//! Counters and two histograms (timer lateness, attempts per event), kept in atomics and written in Prometheus's text format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The routes requests are counted by; a route name never contains a token.
pub const ROUTES: [&str; 13] = [
    "start",
    "journey_link",
    "journey_form",
    "twilio_sms",
    "twilio_voice",
    "twilio_status",
    "api_sessions",
    "api_journeys",
    "healthz",
    "metrics",
    "preview",
    "not_found",
    "other",
];

/// Upper bounds of the attempts-per-event buckets.
const ATTEMPT_BUCKETS: [usize; 5] = [1, 2, 3, 5, 10];

/// Upper bounds of the lateness buckets, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0, 60.0];

#[derive(Default)]
pub struct Metrics {
    requests: [AtomicU64; ROUTES.len()],
    pub sessions_started: AtomicU64,
    pub sms_sent: AtomicU64,
    pub sms_failed: AtomicU64,
    pub timers_fired: AtomicU64,
    /// Events run again because another event changed their session meanwhile.
    pub session_retries: AtomicU64,
    /// Events that failed because their session kept changing under them.
    pub session_conflicts: AtomicU64,
    /// Sessions failed because their state did not fit their journey's version.
    pub sessions_failed: AtomicU64,
    attempt_buckets: [AtomicU64; ATTEMPT_BUCKETS.len()],
    attempts_count: AtomicU64,
    attempts_sum: AtomicU64,
    lateness_buckets: [AtomicU64; BUCKETS.len()],
    lateness_count: AtomicU64,
    /// Microseconds, so the sum stays an integer.
    lateness_sum_us: AtomicU64,
}

impl Metrics {
    pub fn request(&self, route: &str) {
        let i = ROUTES
            .iter()
            .position(|r| *r == route)
            .unwrap_or(ROUTES.len() - 1);
        self.requests[i].fetch_add(1, Relaxed);
    }

    /// An event's change was kept after `n` attempts.
    pub fn attempts(&self, n: usize) {
        for (bound, bucket) in ATTEMPT_BUCKETS.iter().zip(&self.attempt_buckets) {
            if n <= *bound {
                bucket.fetch_add(1, Relaxed);
            }
        }
        self.attempts_count.fetch_add(1, Relaxed);
        self.attempts_sum.fetch_add(n as u64, Relaxed);
    }

    pub fn lateness(&self, seconds: f64) {
        let seconds = seconds.max(0.0);
        for (bound, bucket) in BUCKETS.iter().zip(&self.lateness_buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Relaxed);
            }
        }
        self.lateness_count.fetch_add(1, Relaxed);
        self.lateness_sum_us
            .fetch_add((seconds * 1e6) as u64, Relaxed);
        self.timers_fired.fetch_add(1, Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP journeyc_http_requests_total HTTP requests by route.\n# TYPE journeyc_http_requests_total counter\n");
        for (route, n) in ROUTES.iter().zip(&self.requests) {
            let _ = writeln!(
                out,
                "journeyc_http_requests_total{{route=\"{route}\"}} {}",
                n.load(Relaxed)
            );
        }
        for (name, help, value) in [
            (
                "journeyc_sessions_started_total",
                "Sessions started.",
                &self.sessions_started,
            ),
            (
                "journeyc_sms_sent_total",
                "SMS accepted by the provider (or printed, in development).",
                &self.sms_sent,
            ),
            (
                "journeyc_sms_failed_total",
                "SMS that failed for good.",
                &self.sms_failed,
            ),
            (
                "journeyc_timers_fired_total",
                "Timers fired.",
                &self.timers_fired,
            ),
            (
                "journeyc_session_retries_total",
                "Events run again because another event changed their session meanwhile.",
                &self.session_retries,
            ),
            (
                "journeyc_sessions_failed_total",
                "Sessions failed because their stored state did not fit their journey's version.",
                &self.sessions_failed,
            ),
            (
                "journeyc_session_conflicts_total",
                "Events that failed because their session kept changing under them.",
                &self.session_conflicts,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Relaxed)
            );
        }
        out.push_str("# HELP journeyc_timer_lateness_seconds Time from a timer's due time to its firing.\n# TYPE journeyc_timer_lateness_seconds histogram\n");
        for (bound, bucket) in BUCKETS.iter().zip(&self.lateness_buckets) {
            let _ = writeln!(
                out,
                "journeyc_timer_lateness_seconds_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Relaxed)
            );
        }
        let count = self.lateness_count.load(Relaxed);
        let _ = writeln!(
            out,
            "journeyc_timer_lateness_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "journeyc_timer_lateness_seconds_sum {}",
            self.lateness_sum_us.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "journeyc_timer_lateness_seconds_count {count}");
        out.push_str("# HELP journeyc_event_attempts Attempts each kept event took (more than 1 when its session changed under it).\n# TYPE journeyc_event_attempts histogram\n");
        for (bound, bucket) in ATTEMPT_BUCKETS.iter().zip(&self.attempt_buckets) {
            let _ = writeln!(
                out,
                "journeyc_event_attempts_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Relaxed)
            );
        }
        let count = self.attempts_count.load(Relaxed);
        let _ = writeln!(out, "journeyc_event_attempts_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "journeyc_event_attempts_sum {}",
            self.attempts_sum.load(Relaxed)
        );
        let _ = writeln!(out, "journeyc_event_attempts_count {count}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_the_text_parses_as_lines() {
        let m = Metrics::default();
        m.lateness(0.002);
        m.lateness(0.2);
        m.request("healthz");
        m.request("no such route");
        let text = m.render();
        assert!(text.contains("journeyc_timer_lateness_seconds_bucket{le=\"0.001\"} 0\n"));
        assert!(text.contains("journeyc_timer_lateness_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("journeyc_timer_lateness_seconds_bucket{le=\"0.5\"} 2\n"));
        assert!(text.contains("journeyc_timer_lateness_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(text.contains("journeyc_timer_lateness_seconds_count 2\n"));
        assert!(text.contains("journeyc_timers_fired_total 2\n"));
        assert!(text.contains("journeyc_http_requests_total{route=\"healthz\"} 1\n"));
        assert!(text.contains("journeyc_http_requests_total{route=\"other\"} 1\n"));
        m.attempts(1);
        m.attempts(4);
        let text = m.render();
        assert!(text.contains("journeyc_event_attempts_bucket{le=\"3\"} 1\n"));
        assert!(text.contains("journeyc_event_attempts_bucket{le=\"5\"} 2\n"));
        assert!(text.contains("journeyc_event_attempts_sum 5\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').expect("name value");
            value.parse::<f64>().expect("a number");
        }
    }
}
