//! Shared helpers for reading what a web endpoint serves.

use super::*;

pub fn curl(url: &str) -> Vec<u8> {
    let out = Command::new("curl").args(["-sf", url]).output().unwrap();
    assert!(out.status.success(), "curl {url} failed");
    out.stdout
}

pub fn http_status(url: &str) -> String {
    stock(
        "curl",
        &["-s", "-o", "/dev/null", "-w", "%{http_code}", url],
    )
}
