#!/usr/bin/env node
// Runs N Lodestar discv5 nodes (@chainsafe/discv5 11.0.0) in one Node process,
// each bound to its own IPv4 loopback address, and reports what they do as
// JSON lines on stdout. Driven from Rust by `discguard_tests::lodestar`.
//
// Usage:
//   node lodestar-nodes.mjs --ip 127.0.2.1 --ip 127.0.2.2 [--port 9000]
//       [--bootnode enr:...]... [--bootnode-index 0]...
//       [--lookup-interval-ms 1000] [--seed N | --secret-hex HEX...]
//       [--eth2 HEX]
//
// stdout events (one JSON object per line):
//   {"event":"ready","index":i,"ip":"127.0.2.1","udp":9000,"enr":"enr:...","node_id":"<64 hex>","peer_id":"16Uiu2..."}
//   {"event":"discovered","index":i,"node_id":"<64 hex>","enr":"enr:...","replaced":"<64 hex>"?}
//       node i's routing table gained a node (library event `enrAdded`);
//       `replaced` is present when the insertion evicted another node.
//   {"event":"table","index":i,"node_ids":["<64 hex>",...]}   reply to `table`
//   {"event":"added","index":i,"node_id":"<64 hex>"}          reply to `add-enr`
//   {"event":"error","message":"..."}                         bad stdin command
//   {"event":"stopped"}                                       after `quit`/EOF/signal
//
// stdin commands (one per line):
//   table            one `table` line per node, in index order
//   table I          one `table` line for node I
//   add-enr I ENR    add ENR to node I's table (I = `*` for every node)
//   quit             stop every node and exit 0 (stdin EOF, SIGTERM, SIGINT do the same)
//
// Exit codes: 0 clean stop, 2 bad arguments, 3 bind failure, 1 unexpected error.
//
// Safety: every node drops outgoing packets to addresses outside 127.0.0.0/8,
// so an ENR that names another address can never make this process send
// traffic off the machine.

import { parseArgs } from "node:util";
import { createHash, randomBytes } from "node:crypto";
import { isIPv4 } from "node:net";
import * as dgram from "node:dgram";
import * as readline from "node:readline";
import { Discv5 } from "@chainsafe/discv5";
import { ENR, SignableENR } from "@chainsafe/enr";

const EXIT_USAGE = 2;
const EXIT_BIND = 3;
const EXIT_UNEXPECTED = 1;

/** Writes one event line; stdout to a pipe is synchronous on Linux. */
function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function fail(code, message) {
  process.stderr.write(`lodestar-nodes: ${message}\n`);
  process.exit(code);
}

process.on("uncaughtException", (err) => {
  fail(EXIT_UNEXPECTED, `unexpected error: ${err?.stack ?? err}`);
});
process.on("unhandledRejection", (err) => {
  fail(EXIT_UNEXPECTED, `unhandled rejection: ${err?.stack ?? err}`);
});

// ---------------------------------------------------------------- arguments

let args;
try {
  args = parseArgs({
    options: {
      ip: { type: "string", multiple: true, default: [] },
      port: { type: "string", default: "9000" },
      bootnode: { type: "string", multiple: true, default: [] },
      "bootnode-index": { type: "string", multiple: true, default: [] },
      "lookup-interval-ms": { type: "string", default: "1000" },
      seed: { type: "string" },
      "secret-hex": { type: "string", multiple: true, default: [] },
      eth2: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: false,
  }).values;
} catch (e) {
  fail(EXIT_USAGE, `${e.message} (see --help)`);
}

if (args.help) {
  process.stdout.write(
    "usage: node lodestar-nodes.mjs --ip A [--ip B ...] [--port P] [--bootnode ENR]...\n" +
      "       [--bootnode-index I]... [--lookup-interval-ms MS] [--seed N | --secret-hex HEX...] [--eth2 HEX]\n",
  );
  process.exit(0);
}

const ips = args.ip;
if (ips.length === 0) fail(EXIT_USAGE, "at least one --ip is required");
for (const ip of ips) {
  if (!isIPv4(ip)) fail(EXIT_USAGE, `--ip ${ip} is not an IPv4 address`);
  if (!isLoopback(ip)) fail(EXIT_USAGE, `--ip ${ip} is outside 127.0.0.0/8; only loopback is allowed`);
}
if (new Set(ips).size !== ips.length) fail(EXIT_USAGE, "--ip values must be distinct (all nodes share one port)");

if (args.port === "0") {
  fail(EXIT_USAGE, "--port 0 is not supported: @chainsafe/discv5 11.0.0 does not put the bound port in its ENR; use a fixed port on distinct --ip addresses");
}
const port = parseIntArg("port", args.port, 1, 65535);
const lookupIntervalMs = parseIntArg("lookup-interval-ms", args["lookup-interval-ms"], 0, 3_600_000);

const bootnodes = args.bootnode.map((txt) => {
  try {
    return ENR.decodeTxt(txt);
  } catch (e) {
    fail(EXIT_USAGE, `--bootnode ${txt} is not a valid ENR: ${e.message}`);
  }
});
const bootnodeIndices = args["bootnode-index"].map((s) => parseIntArg("bootnode-index", s, 0, ips.length - 1));

if (args.seed !== undefined && args["secret-hex"].length > 0) {
  fail(EXIT_USAGE, "--seed and --secret-hex are mutually exclusive");
}
if (args["secret-hex"].length > 0 && args["secret-hex"].length !== ips.length) {
  fail(EXIT_USAGE, `--secret-hex given ${args["secret-hex"].length} times, expected once per --ip (${ips.length})`);
}
const secrets = ips.map((_, i) => {
  if (args["secret-hex"].length > 0) {
    return parseHex("secret-hex", args["secret-hex"][i], 32);
  }
  if (args.seed !== undefined) {
    // Deterministic per index: sha256("discguard-lodestar:<seed>:<index>").
    // A digest >= the secp256k1 order has probability ~2^-128: ignored.
    return new Uint8Array(createHash("sha256").update(`discguard-lodestar:${args.seed}:${i}`).digest());
  }
  return new Uint8Array(randomBytes(32));
});

const eth2 = args.eth2 !== undefined ? parseHex("eth2", args.eth2) : undefined;

function parseIntArg(name, s, min, max) {
  if (!/^\d+$/.test(s)) fail(EXIT_USAGE, `--${name} ${s} is not a non-negative integer`);
  const n = Number(s);
  if (n < min || n > max) fail(EXIT_USAGE, `--${name} ${s} is out of range ${min}..=${max}`);
  return n;
}

function parseHex(name, s, len) {
  const hex = s.startsWith("0x") ? s.slice(2) : s;
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) fail(EXIT_USAGE, `--${name} ${s} is not hex`);
  if (len !== undefined && hex.length !== 2 * len) fail(EXIT_USAGE, `--${name} ${s} must be ${len} bytes`);
  return new Uint8Array(Buffer.from(hex, "hex"));
}

function isLoopback(ip) {
  return isIPv4(ip) && ip.startsWith("127.");
}

// ---------------------------------------------------------------- bind probe

/** Fails fast with a clear message if ip:port cannot be bound (the library
 * itself would hang or crash on a bind error). */
function probeBind(ip) {
  return new Promise((resolve) => {
    const s = dgram.createSocket("udp4");
    s.once("error", (e) => fail(EXIT_BIND, `cannot bind UDP ${ip}:${port}: ${e.code ?? e.message}`));
    s.bind(port, ip, () => s.close(resolve));
  });
}

// ---------------------------------------------------------------- nodes

const nodes = [];
let stopping = false;

function portBytes(p) {
  return new Uint8Array([p >> 8, p & 0xff]);
}

function ipBytes(ip) {
  return new Uint8Array(ip.split(".").map(Number));
}

async function startNode(index) {
  const ip = ips[index];
  const secret = secrets[index];
  // The ENR carries the bind address explicitly; created with seq 1.
  const kvs = { ip: ipBytes(ip), udp: portBytes(port), tcp: portBytes(port) };
  if (eth2) kvs.eth2 = eth2;
  let enr;
  try {
    enr = SignableENR.createV4(secret, kvs);
  } catch (e) {
    fail(EXIT_USAGE, `node ${index}: invalid secret key: ${e.message}`);
  }
  // Discv5.create only reads `.type` and `.raw` of the libp2p PrivateKey.
  const privateKey = { type: "secp256k1", raw: secret };
  // The bind multiaddr comes from the ENR itself, so it is built by the same
  // @multiformats/multiaddr copy the library uses (not a direct dependency).
  const bindAddr = enr.getLocationMultiaddr("udp4");
  const discv5 = Discv5.create({
    enr,
    privateKey,
    bindAddrs: { ip4: bindAddr },
    // enrUpdate: false stops PONG address votes from rewriting our ENR's ip/udp.
    config: { enrUpdate: false },
  });

  const transport = discv5.sessionService.transport;
  const send = transport.send.bind(transport);
  let warnedOffHost = false;
  transport.send = async (to, toId, packet) => {
    const host = to.toOptions().host;
    if (!isLoopback(host)) {
      if (!warnedOffHost) {
        warnedOffHost = true;
        process.stderr.write(`lodestar-nodes: node ${index}: dropping packets to non-loopback ${host}\n`);
      }
      return;
    }
    return send(to, toId, packet);
  };

  discv5.on("enrAdded", (added, replaced) => {
    const ev = { event: "discovered", index, node_id: added.nodeId, enr: added.encodeTxt() };
    if (replaced) ev.replaced = replaced.nodeId;
    emit(ev);
  });

  for (const b of bootnodes) discv5.addEnr(b);

  await discv5.start();
  // A send error on a socket without an `error` listener would crash the process.
  transport.ip4?.socket?.on("error", (e) => {
    process.stderr.write(`lodestar-nodes: node ${index}: socket error: ${e.message}\n`);
  });

  const node = { index, ip, discv5, timer: undefined };
  nodes[index] = node;
  emit({ event: "ready", index, ip, udp: port, enr: discv5.enr.encodeTxt(), node_id: discv5.enr.nodeId, peer_id: discv5.enr.peerId.toString() });
  return node;
}

/** One lookup at a time per node, then wait the interval: at most one active
 * lookup per node, so the library's unbounded lookup map stays at one entry. */
function scheduleLookups(node) {
  const run = async () => {
    if (stopping) return;
    try {
      await node.discv5.findRandomNode();
    } catch (e) {
      process.stderr.write(`lodestar-nodes: node ${node.index}: lookup failed: ${e.message}\n`);
    }
    if (!stopping) node.timer = setTimeout(run, lookupIntervalMs);
  };
  node.timer = setTimeout(run, 0);
}

async function shutdown(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const n of nodes) if (n) clearTimeout(n.timer);
  await Promise.allSettled(nodes.filter(Boolean).map((n) => n.discv5.stop()));
  emit({ event: "stopped" });
  process.exit(code);
}

function emitTable(node) {
  emit({ event: "table", index: node.index, node_ids: node.discv5.kadValues().map((e) => e.nodeId) });
}

function handleCommand(line) {
  const words = line.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return;
  const [cmd, ...rest] = words;
  const nodeArg = (s) => {
    if (s === undefined || !/^\d+$/.test(s) || Number(s) >= nodes.length) return undefined;
    return nodes[Number(s)];
  };
  switch (cmd) {
    case "table": {
      if (rest.length === 0) {
        nodes.forEach(emitTable);
      } else {
        const n = nodeArg(rest[0]);
        if (!n) return emit({ event: "error", message: `table: no node ${rest[0]}` });
        emitTable(n);
      }
      return;
    }
    case "add-enr": {
      if (rest.length !== 2) return emit({ event: "error", message: "usage: add-enr <index|*> <enr>" });
      let enr;
      try {
        enr = ENR.decodeTxt(rest[1]);
      } catch (e) {
        return emit({ event: "error", message: `add-enr: invalid ENR: ${e.message}` });
      }
      const targets = rest[0] === "*" ? nodes : [nodeArg(rest[0])];
      if (targets.some((n) => !n)) return emit({ event: "error", message: `add-enr: no node ${rest[0]}` });
      for (const n of targets) {
        n.discv5.addEnr(enr);
        emit({ event: "added", index: n.index, node_id: enr.nodeId });
      }
      return;
    }
    case "quit":
      void shutdown(0);
      return;
    default:
      emit({ event: "error", message: `unknown command: ${cmd}` });
  }
}

// ---------------------------------------------------------------- main

for (const ip of ips) await probeBind(ip);
for (let i = 0; i < ips.length; i++) await startNode(i);
for (const b of bootnodeIndices) {
  const enr = nodes[b].discv5.enr.toENR();
  for (const n of nodes) if (n.index !== b) n.discv5.addEnr(enr);
}
for (const n of nodes) scheduleLookups(n);

process.on("SIGTERM", () => void shutdown(0));
process.on("SIGINT", () => void shutdown(0));
const rl = readline.createInterface({ input: process.stdin, terminal: false });
rl.on("line", handleCommand);
// Parent gone (or stdin closed): stop by ourselves.
rl.on("close", () => void shutdown(0));
