//! Serde helpers that let stored model documents evolve: a field at its default is left out
//! when serialized and filled in when absent, so a record written before a field existed
//! still decodes, and a service that does not use a new field serializes (and hashes, see
//! `plan::config_hash`) as it did before the field was added.

use std::time::Duration;

/// `skip_serializing_if` for any field whose type's `Default` is its Compose default.
pub(crate) fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

pub(crate) fn is_true(v: &bool) -> bool {
    *v
}

/// Compose's `stop_signal` when none is given.
pub(crate) const STOP_SIGNAL: &str = "SIGTERM";
/// Compose's `stop_grace_period` when none is given.
pub(crate) const STOP_GRACE_PERIOD: Duration = Duration::from_secs(10);

pub(crate) fn is_default_stop_signal(s: &str) -> bool {
    s == STOP_SIGNAL
}

pub(crate) fn is_default_stop_grace_period(d: &Duration) -> bool {
    *d == STOP_GRACE_PERIOD
}

/// Docker's permissions for a listed device.
pub(crate) const DEVICE_PERMISSIONS: &str = "rwm";

pub(crate) fn is_default_device_permissions(s: &str) -> bool {
    s == DEVICE_PERMISSIONS
}

/// Docker's healthcheck timings when the service leaves them out.
pub(crate) mod health {
    use std::time::Duration;

    pub(crate) const INTERVAL: Duration = Duration::from_secs(30);
    pub(crate) const TIMEOUT: Duration = Duration::from_secs(30);
    pub(crate) const RETRIES: u32 = 3;
    pub(crate) const START_INTERVAL: Duration = Duration::from_secs(5);

    pub(crate) fn is_interval(d: &Duration) -> bool {
        *d == INTERVAL
    }
    pub(crate) fn is_timeout(d: &Duration) -> bool {
        *d == TIMEOUT
    }
    pub(crate) fn is_retries(n: &u32) -> bool {
        *n == RETRIES
    }
    pub(crate) fn is_start_interval(d: &Duration) -> bool {
        *d == START_INTERVAL
    }
}

/// Docker's restart backoff (`x-rstack.restart_backoff`) when the service leaves it out.
pub(crate) mod backoff {
    use std::time::Duration;

    pub(crate) const INITIAL: Duration = Duration::from_millis(100);
    pub(crate) const MAX: Duration = Duration::from_secs(60);

    pub(crate) fn is_initial(d: &Duration) -> bool {
        *d == INITIAL
    }
    pub(crate) fn is_max(d: &Duration) -> bool {
        *d == MAX
    }
}
