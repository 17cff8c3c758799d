package dev.saaskit.testing.internal.stripe;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.jspecify.annotations.Nullable;

/**
 * A small HTTP/1.1 server (keep-alive, Content-Length or chunked request bodies) for the emulator. The JDK's
 * {@code HttpServer} always stamps {@code Date} with the real time; Stripe clients read {@code Date} as the "as of"
 * time of an answer, so the emulator must set it from its own clock. Each answer goes out in one write (no
 * Nagle stall).
 */
final class MiniHttpServer implements AutoCloseable {
  /** A request: method upper case, header names lower case. */
  record Request(String method, String path, @Nullable String rawQuery, Map<String, String> headers, String body) {
    @Nullable String header(String name) {
      return headers.get(name.toLowerCase(Locale.ROOT));
    }
  }

  /** An answer. */
  record Response(int status, Map<String, String> headers, String body) {}

  /** Handles one request. */
  interface Handler {
    Response handle(Request request);
  }

  private static final int MAX_LINE = 64 * 1024;

  private final ServerSocket server;
  private final ExecutorService executor;
  private final Handler handler;
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private volatile boolean closed;

  MiniHttpServer(Handler handler, int port) throws IOException {
    this.handler = handler;
    this.server = new ServerSocket();
    server.setReuseAddress(true);
    server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 128);
    this.executor = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "stripe-emulator");
      t.setDaemon(true);
      return t;
    });
    executor.execute(this::acceptLoop);
  }

  InetSocketAddress address() {
    return (InetSocketAddress) server.getLocalSocketAddress();
  }

  private void acceptLoop() {
    while (!closed) {
      try {
        Socket socket = server.accept();
        open.add(socket);
        executor.execute(() -> serve(socket));
      } catch (IOException e) {
        if (closed) {
          return;
        }
      }
    }
  }

  private void serve(Socket socket) {
    try (socket) {
      socket.setTcpNoDelay(true);
      InputStream in = new BufferedInputStream(socket.getInputStream());
      OutputStream out = new BufferedOutputStream(socket.getOutputStream());
      while (!closed) {
        String requestLine = readLine(in);
        if (requestLine == null) {
          return;
        }
        if (requestLine.isEmpty()) {
          continue;
        }
        String[] parts = requestLine.split(" ", 3);
        if (parts.length < 3) {
          return;
        }
        Map<String, String> headers = new LinkedHashMap<>();
        while (true) {
          String line = readLine(in);
          if (line == null) {
            return;
          }
          if (line.isEmpty()) {
            break;
          }
          int colon = line.indexOf(':');
          if (colon > 0) {
            headers.putIfAbsent(line.substring(0, colon).trim().toLowerCase(Locale.ROOT),
                line.substring(colon + 1).trim());
          }
        }
        byte[] body = readBody(in, headers);
        String target = parts[1];
        int q = target.indexOf('?');
        Request request = new Request(parts[0].toUpperCase(Locale.ROOT), q < 0 ? target : target.substring(0, q),
            q < 0 ? null : target.substring(q + 1), headers, new String(body, StandardCharsets.UTF_8));
        Response response = handler.handle(request);
        String connection = headers.getOrDefault("connection", "");
        boolean keepAlive = parts[2].trim().equals("HTTP/1.1") ? !connection.equalsIgnoreCase("close")
            : connection.equalsIgnoreCase("keep-alive");
        write(out, request, response, keepAlive);
        if (!keepAlive) {
          return;
        }
      }
    } catch (SocketException e) {
      // the client went away or the server closed
    } catch (IOException e) {
      // a broken request: drop the connection
    } finally {
      open.remove(socket);
    }
  }

  private static void write(OutputStream out, Request request, Response response, boolean keepAlive)
      throws IOException {
    StringBuilder head = new StringBuilder();
    head.append("HTTP/1.1 ").append(response.status()).append(' ').append(reason(response.status())).append("\r\n");
    for (Map.Entry<String, String> h : response.headers().entrySet()) {
      head.append(h.getKey()).append(": ").append(h.getValue()).append("\r\n");
    }
    byte[] body = response.body().getBytes(StandardCharsets.UTF_8);
    head.append("Content-Length: ").append(body.length).append("\r\n");
    head.append("Connection: ").append(keepAlive ? "keep-alive" : "close").append("\r\n\r\n");
    out.write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
    if (!request.method().equals("HEAD")) {
      out.write(body);
    }
    out.flush();
  }

  private static byte[] readBody(InputStream in, Map<String, String> headers) throws IOException {
    String length = headers.get("content-length");
    if (length != null) {
      int n;
      try {
        n = Integer.parseInt(length.trim());
      } catch (NumberFormatException e) {
        throw new IOException("bad Content-Length " + length, e);
      }
      byte[] body = in.readNBytes(n);
      if (body.length != n) {
        throw new IOException("body ended early");
      }
      return body;
    }
    if ("chunked".equalsIgnoreCase(headers.getOrDefault("transfer-encoding", ""))) {
      ByteArrayOutputStream body = new ByteArrayOutputStream();
      while (true) {
        String sizeLine = readLine(in);
        if (sizeLine == null) {
          throw new IOException("chunked body ended early");
        }
        int semi = sizeLine.indexOf(';');
        int size = Integer.parseInt((semi < 0 ? sizeLine : sizeLine.substring(0, semi)).trim(), 16);
        if (size == 0) {
          while (true) {
            String trailer = readLine(in);
            if (trailer == null || trailer.isEmpty()) {
              return body.toByteArray();
            }
          }
        }
        body.write(in.readNBytes(size));
        readLine(in);
      }
    }
    return new byte[0];
  }

  /** A line without its CR LF, or null at the end of the stream. */
  private static @Nullable String readLine(InputStream in) throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    while (true) {
      int b = in.read();
      if (b < 0) {
        return line.size() == 0 ? null : line.toString(StandardCharsets.ISO_8859_1);
      }
      if (b == '\n') {
        String s = line.toString(StandardCharsets.ISO_8859_1);
        return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
      }
      if (line.size() > MAX_LINE) {
        throw new IOException("header line too long");
      }
      line.write(b);
    }
  }

  private static String reason(int status) {
    switch (status) {
      case 200:
        return "OK";
      case 303:
        return "See Other";
      case 400:
        return "Bad Request";
      case 401:
        return "Unauthorized";
      case 402:
        return "Payment Required";
      case 404:
        return "Not Found";
      case 405:
        return "Method Not Allowed";
      case 409:
        return "Conflict";
      case 410:
        return "Gone";
      case 429:
        return "Too Many Requests";
      case 500:
        return "Internal Server Error";
      case 503:
        return "Service Unavailable";
      default:
        return "Status";
    }
  }

  @Override
  public void close() {
    closed = true;
    try {
      server.close();
    } catch (IOException e) {
      // closing anyway
    }
    for (Socket s : open) {
      try {
        s.close();
      } catch (IOException e) {
        // closing anyway
      }
    }
    executor.shutdownNow();
  }
}
