package dev.saaskit.auth;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A tiny local HTTP server for the verifier tests: answers every request with the current status and body (a JWKS,
 * or an error while "down") and counts the requests. Plain sockets, so the tests need no extra JDK module.
 */
final class CountingHttpServer implements AutoCloseable {
  private final ServerSocket socket;
  private final Thread acceptor;
  private final AtomicInteger hits = new AtomicInteger();
  private volatile int status = 200;
  private volatile String body;

  CountingHttpServer(String body) throws IOException {
    this.body = body;
    this.socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    this.acceptor = new Thread(this::acceptLoop, "counting-http-server");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  /** The URL of this server, with {@code path}. */
  URI uri(String path) {
    return URI.create("http://127.0.0.1:" + socket.getLocalPort() + path);
  }

  /** Requests served so far. */
  int hits() {
    return hits.get();
  }

  /** Serves {@code json} with status 200 from now on. */
  void serve(String json) {
    this.body = json;
    this.status = 200;
  }

  /** Answers 503 from now on (the IdP is down). */
  void down() {
    this.status = 503;
  }

  private void acceptLoop() {
    while (!socket.isClosed()) {
      try (Socket s = socket.accept()) {
        BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
        String line = in.readLine();
        while (line != null && !line.isEmpty()) {
          line = in.readLine();
        }
        hits.incrementAndGet();
        int code = status;
        byte[] payload = (code == 200 ? body : "{\"error\":\"down\"}").getBytes(StandardCharsets.UTF_8);
        String head = "HTTP/1.1 " + code + (code == 200 ? " OK" : " Service Unavailable") + "\r\n"
            + "Content-Type: application/json\r\nContent-Length: " + payload.length + "\r\nConnection: close\r\n\r\n";
        OutputStream out = s.getOutputStream();
        out.write(head.getBytes(StandardCharsets.US_ASCII));
        out.write(payload);
        out.flush();
      } catch (IOException e) {
        // closed, or a client went away: keep serving until close()
      }
    }
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
