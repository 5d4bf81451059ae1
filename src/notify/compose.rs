//! The words of every email, written once as a list of blocks and rendered twice: as plain
//! text and as monochrome HTML that reads on a phone (one column, system font, no images, no
//! colour but black, grey and white). Pure: the caller passes every value, already in the
//! recipient's time zone.

use super::email::{Email, Invite};

/// One piece of a message.
#[derive(Debug, Clone)]
pub enum Block {
    Para(String),
    /// A label and its value ("When", "Tuesday 8 December, 10:00 (Europe/London)").
    Fact(&'static str, String),
    /// A link shown as a button in HTML.
    Button(&'static str, String),
    /// Small print at the end.
    Note(String),
}

/// A message before rendering.
#[derive(Debug, Clone)]
pub struct Draft {
    pub to_name: String,
    pub to_email: String,
    pub subject: String,
    pub blocks: Vec<Block>,
    pub invite: Option<Invite>,
    pub unsubscribe: Option<String>,
    /// Signs the message.
    pub organisation: String,
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

impl Draft {
    /// Renders the text and HTML bodies.
    pub fn render(self) -> Email {
        let mut text = String::new();
        let mut html = String::from(
            "<!doctype html><html><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <meta name=\"color-scheme\" content=\"light dark\"></head>\
             <body style=\"margin:0;padding:24px 16px;background:#fff;color:#111;\
             font:16px/1.5 -apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif\">\
             <div style=\"max-width:560px;margin:0 auto\">",
        );
        let greeting = if self.to_name.is_empty() {
            "Hello,".to_string()
        } else {
            format!("Hello {},", self.to_name)
        };
        text.push_str(&greeting);
        text.push_str("\n\n");
        html.push_str(&format!("<p>{}</p>", escape(&greeting)));
        let mut in_facts = false;
        for b in &self.blocks {
            let fact = matches!(b, Block::Fact(..));
            if in_facts && !fact {
                html.push_str("</table>");
                text.push('\n');
            }
            if fact && !in_facts {
                html.push_str("<table role=\"presentation\" style=\"border-collapse:collapse;margin:0 0 16px\">");
            }
            in_facts = fact;
            match b {
                Block::Para(p) => {
                    text.push_str(p);
                    text.push_str("\n\n");
                    html.push_str(&format!("<p>{}</p>", escape(p)));
                }
                Block::Fact(label, value) => {
                    text.push_str(&format!("{label}: {value}\n"));
                    html.push_str(&format!(
                        "<tr><td style=\"padding:2px 16px 2px 0;color:#555;vertical-align:top\">{}</td>\
                         <td style=\"padding:2px 0\">{}</td></tr>",
                        escape(label),
                        escape(value)
                    ));
                }
                Block::Button(label, url) => {
                    text.push_str(&format!("{label}: {url}\n\n"));
                    html.push_str(&format!(
                        "<p><a href=\"{}\" style=\"display:inline-block;padding:10px 18px;\
                         background:#111;color:#fff;text-decoration:none;border-radius:4px\">{}</a></p>",
                        escape(url),
                        escape(label)
                    ));
                }
                Block::Note(n) => {
                    text.push_str(n);
                    text.push_str("\n\n");
                    html.push_str(&format!(
                        "<p style=\"color:#555;font-size:14px\">{}</p>",
                        escape(n)
                    ));
                }
            }
        }
        if in_facts {
            html.push_str("</table>");
            text.push('\n');
        }
        text.push_str(&format!("— {}\n", self.organisation));
        html.push_str(&format!(
            "<p style=\"color:#555\">— {}</p>",
            escape(&self.organisation)
        ));
        if let Some(u) = &self.unsubscribe {
            text.push_str(&format!("\nNo more reminders: {u}\n"));
            html.push_str(&format!(
                "<p style=\"color:#555;font-size:13px\"><a href=\"{}\" style=\"color:#555\">\
                 No more reminders</a></p>",
                escape(u)
            ));
        }
        html.push_str("</div></body></html>");
        Email {
            to_name: self.to_name,
            to_email: self.to_email,
            subject: self.subject,
            text,
            html,
            invite: self.invite,
            unsubscribe: self.unsubscribe,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_html_say_the_same_and_html_is_escaped() {
        let e = Draft {
            to_name: "Ada <script>".into(),
            to_email: "ada@example.com".into(),
            subject: "s".into(),
            blocks: vec![
                Block::Para("Your session is booked.".into()),
                Block::Fact("When", "Tuesday 8 December, 10:00".into()),
                Block::Fact("Focus", "a & b".into()),
                Block::Button("Join", "https://x.test/r/abc?a=1&b=2".into()),
                Block::Note("Small print.".into()),
            ],
            invite: None,
            unsubscribe: Some("https://x.test/u".into()),
            organisation: "Acme Coaching".into(),
        }
        .render();
        assert!(e.text.starts_with("Hello Ada <script>,\n\nYour session is booked.\n\nWhen: Tuesday 8 December, 10:00\nFocus: a & b\n\nJoin: https://x.test/r/abc?a=1&b=2\n"), "{}", e.text);
        assert!(e.text.contains("— Acme Coaching\n"));
        assert!(e.text.contains("No more reminders: https://x.test/u"));
        assert!(e.html.contains("Hello Ada &lt;script&gt;,"));
        assert!(!e.html.contains("<script>"));
        assert!(e.html.contains("a &amp; b"));
        assert!(e.html.contains("href=\"https://x.test/r/abc?a=1&amp;b=2\""));
        assert_eq!(e.html.matches("<table").count(), 1);
        assert_eq!(e.html.matches("</table>").count(), 1);
    }
}
