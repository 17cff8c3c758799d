package dev.saaskit.cli;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A loopback server that speaks just enough of the PostgreSQL protocol (v3) to ask for a password and reject it
 * exactly as PostgreSQL does ({@code FATAL 28P01 password authentication failed for user "..."}), recording the
 * passwords it was sent. The shared test server may trust every login (the embedded one does), so this is how the
 * wrong-password path is tested everywhere.
 */
final class PasswordRejectingServer implements AutoCloseable {
  private static final int SSL_REQUEST = 80877103;
  private static final int GSSENC_REQUEST = 80877104;
  private static final int PROTOCOL_3 = 196608;

  private final ServerSocket socket;
  private final Thread acceptor;
  final List<String> passwordsReceived = new CopyOnWriteArrayList<>();
  /** Connections accepted, whether or not they got as far as sending a password. */
  final AtomicInteger connections = new AtomicInteger();

  PasswordRejectingServer() throws IOException {
    socket = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
    acceptor = new Thread(this::acceptLoop, "password-rejecting-server");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  int port() {
    return socket.getLocalPort();
  }

  String jdbcUrl() {
    return "jdbc:postgresql://127.0.0.1:" + port() + "/app?sslmode=disable";
  }

  private void acceptLoop() {
    while (!socket.isClosed()) {
      try (Socket client = socket.accept()) {
        connections.incrementAndGet();
        client.setSoTimeout(10_000);
        serve(new DataInputStream(client.getInputStream()), new DataOutputStream(client.getOutputStream()));
      } catch (IOException e) {
        // closed, or the client went away: wait for the next one
      }
    }
  }

  private void serve(DataInputStream in, DataOutputStream out) throws IOException {
    String user = "";
    while (true) { // startup packet: int32 length, int32 code, then for v3 name/value C strings
      int length = in.readInt();
      int code = in.readInt();
      byte[] body = new byte[length - 8];
      in.readFully(body);
      if (code == SSL_REQUEST || code == GSSENC_REQUEST) {
        out.writeByte('N');
        out.flush();
        continue;
      }
      if (code != PROTOCOL_3) {
        return;
      }
      String[] parts = new String(body, StandardCharsets.UTF_8).split("\0", -1);
      for (int i = 0; i + 1 < parts.length; i += 2) {
        if (parts[i].equals("user")) {
          user = parts[i + 1];
        }
      }
      break;
    }
    out.writeByte('R'); // AuthenticationCleartextPassword
    out.writeInt(8);
    out.writeInt(3);
    out.flush();
    if (in.readByte() != 'p') {
      return;
    }
    byte[] message = new byte[in.readInt() - 4];
    in.readFully(message);
    passwordsReceived.add(new String(message, 0, message.length - 1, StandardCharsets.UTF_8));
    byte[] fields = ("SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user \"" + user + "\"\0\0")
        .getBytes(StandardCharsets.UTF_8);
    out.writeByte('E');
    out.writeInt(4 + fields.length);
    out.write(fields);
    out.flush();
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
