/**
 * The transport's limit: a bare Socket.IO server (no auth, no database, no Redis) that emits to
 * one socket when an HTTP trigger arrives. Our delivery latency is compared with its latency.
 */
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.argv[2]);
const server = createServer((req, res) => {
  if (req.method === "POST" && req.url === "/emit") {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      const { to, id } = JSON.parse(body) as { to: number; id: string };
      io.to(`i-${to}`).emit("ping-test", { id });
      res.statusCode = 204;
      res.end();
    });
    return;
  }
  res.statusCode = req.url === "/readyz" ? 200 : 404;
  res.end();
});
const io = new Server(server, { path: "/socket.io", serveClient: false });
io.on("connection", (socket) => void socket.join(`i-${(socket.handshake.auth as { index: number }).index}`));
server.listen(port, "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
