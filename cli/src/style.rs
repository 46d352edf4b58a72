//! Terminal colour: on only when the output is a terminal (and `NO_COLOR`
//! is unset), or when `--color always` asks for it.

use std::io::IsTerminal;

/// When to colour output (`--color`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and NO_COLOR is unset.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// Paints text with ANSI colours, or leaves it plain.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    on: bool,
}

impl Style {
    /// The style for a stream that is (or is not) a terminal.
    pub fn new(choice: ColorChoice, tty: bool) -> Self {
        let on = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => tty && std::env::var_os("NO_COLOR").is_none(),
        };
        Style { on }
    }

    /// The style for standard output.
    pub fn stdout(choice: ColorChoice) -> Self {
        Style::new(choice, std::io::stdout().is_terminal())
    }

    /// The style for standard error.
    pub fn stderr(choice: ColorChoice) -> Self {
        Style::new(choice, std::io::stderr().is_terminal())
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// Headings.
    pub fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }
    /// Errors, removals.
    pub fn red(&self, t: &str) -> String {
        self.paint("31", t)
    }
    /// Success, additions.
    pub fn green(&self, t: &str) -> String {
        self.paint("32", t)
    }
    /// Changes, warnings.
    pub fn yellow(&self, t: &str) -> String {
        self.paint("33", t)
    }
    /// Secondary detail.
    pub fn dim(&self, t: &str) -> String {
        self.paint("2", t)
    }
}
