fn main() -> std::process::ExitCode {
    release_dist::main_impl()
}
