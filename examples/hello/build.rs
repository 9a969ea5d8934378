//! Tells the program which Rust target it is compiled for: cargo gives a
//! build script the target triple in `TARGET`.
fn main() {
    let target = std::env::var("TARGET").expect("cargo sets TARGET for build scripts");
    println!("cargo:rustc-env=HELLO_TARGET={target}");
}
