//! A gateway under hostile clients and faulty plugins: one file per way of attacking it, each
//! test reproducing the attack against a real gateway on port 0 with raw clients.

#[path = "../common/mod.rs"]
mod common;
mod raw;

mod admin;
mod close_codes;
mod compile_cache;
mod endless_fragment;
mod handshake_flood;
mod per_ip;
mod ping_flood;
mod sample_config;
mod static_files;
mod tokens;
mod upgrade_checks;
