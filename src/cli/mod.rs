//! Command-line interface.

pub fn main() -> i32 {
    // Hidden helper roles of the same binary, dispatched before any parsing or thread start:
    // the shim and nsexec must stay single-threaded.
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("shim") => {
            return match args.get(2) {
                Some(dir) => crate::runtime::shim_main(std::path::Path::new(dir)),
                None => 2,
            };
        }
        Some("nsexec") => return crate::runtime::nsexec_main(&args[2..]),
        _ => {}
    }
    0
}
