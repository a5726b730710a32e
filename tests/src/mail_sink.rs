//! A real HTTP endpoint standing in for the email provider a production Worker posts to
//! (`MAIL_API_URL`): it answers every POST with 200 and hands each request over.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

/// One request the provider received.
#[derive(Debug, Clone)]
pub struct Posted {
    pub path: String,
    pub authorization: Option<String>,
    pub body: serde_json::Value,
}

pub struct MailSink {
    pub url: String,
    received: Receiver<Posted>,
}

impl MailSink {
    /// Listens on a free loopback port until the process ends.
    pub fn start() -> MailSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
        let url = format!(
            "http://{}/send",
            listener.local_addr().expect("bound address")
        );
        let (tx, received) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Some(posted) = serve(stream) {
                    if tx.send(posted).is_err() {
                        return;
                    }
                }
            }
        });
        MailSink { url, received }
    }

    /// The next request, or `None` after `wait`.
    pub fn next(&self, wait: Duration) -> Option<Posted> {
        self.received.recv_timeout(wait).ok()
    }
}

fn serve(stream: std::net::TcpStream) -> Option<Posted> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_string();
    let (mut length, mut authorization) = (0usize, None);
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            "authorization" => authorization = Some(value.trim().to_string()),
            _ => {}
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    let reply = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 13\r\n\
                 connection: close\r\n\r\n{\"id\":\"m-1\"}\n";
    (&stream).write_all(reply.as_bytes()).ok()?;
    Some(Posted {
        path,
        authorization,
        body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_over_what_was_posted() {
        let sink = MailSink::start();
        let addr = sink
            .url
            .trim_start_matches("http://")
            .trim_end_matches("/send");
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        let body = r#"{"to":"a@b.c"}"#;
        write!(
            stream,
            "POST /send HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        let posted = sink.next(Duration::from_secs(5)).expect("one request");
        assert_eq!(posted.path, "/send");
        assert_eq!(posted.authorization.as_deref(), Some("Bearer k"));
        assert_eq!(posted.body["to"], "a@b.c");
    }
}
