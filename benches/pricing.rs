//! Pricing benchmark (filled in with the cost function).

fn main() {}
