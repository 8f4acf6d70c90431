//! The `discguard` binary. See the `discguard` library crate and the README.

#[tokio::main]
async fn main() {
    let code = discguard::run::main(std::env::args_os()).await;
    std::process::exit(code);
}
