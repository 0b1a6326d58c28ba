//! `logging`: drivers and rotation options into the model, errors with positions, and the
//! `config` output Compose prints for it.

use super::{errors, ok};
use crate::model::{LogDriver, Logging};
use crate::spec::to_compose_json;
use serde_json::json;

const HEAD: &str = "services:\n  s:\n    image: busybox\n";

fn logging(body: &str) -> Option<Logging> {
    let l = ok(&format!("{HEAD}{body}"));
    l.stack.services["s"].logging.clone()
}

#[test]
fn drivers_and_rotation_options() {
    assert_eq!(logging(""), None);
    assert_eq!(
        logging(
            "    logging:\n      driver: json-file\n      options:\n        max-size: 10m\n        max-file: \"3\"\n"
        ),
        Some(Logging {
            driver: LogDriver::JsonFile,
            max_size: Some(10_000_000),
            max_file: Some(3),
        })
    );
    // Numbers as option values, and `compress` accepted (rotated files stay readable).
    assert_eq!(
        logging(
            "    logging:\n      driver: local\n      options: {max-size: 2048, max-file: 2, compress: \"true\"}\n"
        ),
        Some(Logging {
            driver: LogDriver::Local,
            max_size: Some(2048),
            max_file: Some(2),
        })
    );
    // Options alone keep the default driver.
    assert_eq!(
        logging("    logging:\n      options:\n        max-size: 1k\n").map(|l| l.driver),
        Some(LogDriver::JsonFile)
    );
    assert_eq!(
        logging("    logging:\n      driver: none\n").map(|l| l.driver),
        Some(LogDriver::None)
    );
}

#[test]
fn unsupported_drivers_and_bad_options_are_errors_at_their_place() {
    let cases: &[(&str, &str, u32, u32)] = &[
        (
            "    logging:\n      driver: syslog\n",
            "services.s.logging.driver: logging driver \"syslog\" is not supported",
            5,
            15,
        ),
        (
            "    logging:\n      options:\n        max-size: big\n",
            "services.s.logging.options.max-size: invalid size \"big\"",
            6,
            19,
        ),
        (
            "    logging:\n      options:\n        max-file: 0\n",
            "services.s.logging.options.max-file: invalid number of files \"0\"",
            6,
            19,
        ),
        (
            "    logging:\n      options:\n        max-siz: 1m\n",
            "services.s.logging.options: unknown key \"max-siz\"",
            6,
            9,
        ),
        (
            "    logging:\n      driver: none\n      options:\n        max-size: 1m\n",
            "services.s.logging.options.max-size: logging driver \"none\" takes no options",
            7,
            9,
        ),
        (
            "    logging:\n      drivr: local\n",
            "services.s.logging: unknown key \"drivr\"",
            5,
            7,
        ),
    ];
    for (body, msg, line, col) in cases {
        let errs = errors(&format!("{HEAD}{body}"));
        assert!(
            errs.iter()
                .any(|(m, l, c)| m.contains(msg) && l == line && c == col),
            "{body}: want {msg} at {line}:{col}, got {errs:?}"
        );
    }
}

#[test]
fn config_prints_logging_as_compose_does() {
    let l = ok(&format!(
        "{HEAD}    logging:\n      driver: json-file\n      options:\n        max-size: 10m\n        max-file: 3\n"
    ));
    assert_eq!(
        to_compose_json(&l)["services"]["s"]["logging"],
        json!({"driver": "json-file", "options": {"max-file": "3", "max-size": "10m"}})
    );
}
