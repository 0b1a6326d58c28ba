//! (daemon: being written)
