//! Integration tests: the real binary, real nix, real git, on copies of the example.

mod bad_input;
mod binaries;
mod build;
mod cache;
mod cache_gc;
mod ci_examples;
mod cluster;
mod extras;
mod faults;
mod flaky;
mod friction;
mod garage;
mod images;
mod installer;
mod lifecycle;
mod nix_manifest;
mod packages;
mod plan;
mod promote;
mod proxy;
mod publish;
mod reliability;
mod secrets;
mod structure;
mod templates;
mod util;
