//! A gateway under hostile clients and faulty plugins: one file per way of attacking it, each
//! test reproducing the attack against a real gateway on port 0 with raw clients.

#[path = "../common/mod.rs"]
mod common;

mod admin;
