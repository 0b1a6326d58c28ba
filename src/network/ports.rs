//! Host port reservation (WIP).
