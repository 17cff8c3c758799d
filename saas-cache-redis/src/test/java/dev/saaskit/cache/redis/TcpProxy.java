package dev.saaskit.cache.redis;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A TCP proxy between a client under test and the real Redis, on loopback. {@link #hold()} stops forwarding what
 * clients send (it is still read and recorded, so a test can see that a command left the client) until
 * {@link #release()}: to Redis it looks like a server that answers nothing for as long as the test wants, to the
 * client like a slow Redis.
 */
final class TcpProxy implements AutoCloseable {
  private final ServerSocket server;
  private final String targetHost;
  private final int targetPort;
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();
  private final ByteArrayOutputStream received = new ByteArrayOutputStream();
  private final Object gate = new Object();
  private boolean holding;
  private volatile boolean closed;

  TcpProxy(String targetHost, int targetPort) throws IOException {
    this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    this.targetHost = targetHost;
    this.targetPort = targetPort;
    Thread acceptor = new Thread(this::accept, "tcp-proxy-accept");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  /** A proxy to the shared test Redis. */
  static TcpProxy toTestRedis() throws IOException {
    java.net.URI uri = java.net.URI.create(RedisSupport.URI);
    return new TcpProxy(uri.getHost(), uri.getPort() == -1 ? 6379 : uri.getPort());
  }

  /** The Redis URI that goes through this proxy. */
  String uri() {
    return "redis://127.0.0.1:" + server.getLocalPort();
  }

  /** Stops forwarding client bytes to Redis (they are still read and recorded). */
  void hold() {
    synchronized (gate) {
      holding = true;
    }
  }

  /** Forwards again, the held bytes first. */
  void release() {
    synchronized (gate) {
      holding = false;
      gate.notifyAll();
    }
  }

  /** Whether the clients have sent {@code text} (a key name, say) since the proxy started. */
  boolean received(String text) {
    synchronized (received) {
      return received.toString(StandardCharsets.ISO_8859_1).contains(text);
    }
  }

  private void accept() {
    while (!closed) {
      try {
        Socket client = server.accept();
        Socket redis = new Socket(targetHost, targetPort);
        sockets.add(client);
        sockets.add(redis);
        pump(client.getInputStream(), redis.getOutputStream(), true);
        pump(redis.getInputStream(), client.getOutputStream(), false);
      } catch (IOException e) {
        if (!closed) {
          throw new IllegalStateException(e);
        }
        return;
      }
    }
  }

  private void pump(InputStream in, OutputStream out, boolean fromClient) {
    // bytes from the client are read (and recorded) at once and forwarded by a second thread that the hold stops
    java.util.concurrent.BlockingQueue<byte[]> chunks = new java.util.concurrent.LinkedBlockingQueue<>();
    byte[] end = new byte[0];
    Thread reader = new Thread(() -> {
      byte[] buffer = new byte[16384];
      try {
        int n;
        while ((n = in.read(buffer)) > 0) {
          if (fromClient) {
            synchronized (received) {
              received.write(buffer, 0, n);
            }
          }
          chunks.add(java.util.Arrays.copyOf(buffer, n));
        }
      } catch (IOException e) {
        // the other side closed, or the proxy did
      } finally {
        chunks.add(end);
      }
    }, "tcp-proxy-read");
    Thread writer = new Thread(() -> {
      try {
        byte[] chunk;
        while ((chunk = chunks.take()) != end) {
          if (fromClient) {
            synchronized (gate) {
              while (holding && !closed) {
                gate.wait();
              }
            }
          }
          out.write(chunk);
          out.flush();
        }
      } catch (IOException | InterruptedException e) {
        // the other side closed, or the proxy did
      } finally {
        try {
          out.close();
        } catch (IOException e) {
          // closed already
        }
      }
    }, "tcp-proxy-write");
    for (Thread thread : List.of(reader, writer)) {
      thread.setDaemon(true);
      thread.start();
    }
  }

  @Override
  public void close() throws IOException {
    closed = true;
    release();
    server.close();
    for (Socket socket : sockets) {
      socket.close();
    }
  }
}
