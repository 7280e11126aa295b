//! Standard output that ends quietly when its reader has gone (`leganto status | head -1`).
//!
//! Rust ignores SIGPIPE, so a write to a closed pipe is an error, and std's `println!`
//! panics on it (an abort in the release build). These `println!` and `print!` shadow
//! std's for the whole crate: a closed pipe ends the command with exit 0, as `head`'s
//! reader expects, and any other failure to write is exit 6 (output).

use std::io::Write;

/// `println!`, ending quietly on a closed pipe.
macro_rules! println {
    () => {
        $crate::stdout::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::stdout::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!`, ending quietly on a closed pipe.
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::stdout::write(format_args!($($arg)*))
    };
}

/// Writes to stdout; exits 0 when the reader has closed the pipe, 6 on any other failure.
pub fn write(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    match out.write_fmt(args) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("leganto: cannot write to stdout: {e}");
            std::process::exit(6)
        }
    }
}
