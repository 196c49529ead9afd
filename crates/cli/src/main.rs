//! The `undersign` command.

fn main() {}
