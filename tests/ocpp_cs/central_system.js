'use strict';
// Independent OCPP 1.6J central system for the MQ 200 tests.
//
// ocpp-rpc in strictMode validates every CALL and CALLRESULT our charge point sends (and every
// CALL this script sends) against its own OCPP 1.6 schemas.  Everything that happens is written
// to stdout as one JSON object per line; pytest drives it by writing JSON commands to stdin.
//
// usage: node central_system.js <port> [options-json]
//   options: {"password": "...", "bootStatus": "Accepted"|"Pending"|"Rejected",
//             "heartbeatInterval": 300, "authorize": {"TAG": "Blocked", ...}}
//
// stdin commands (one JSON object per line, "id" is echoed back in the answer):
//   {"id":1,"cmd":"call","method":"RemoteStartTransaction","params":{...}}
//       -> {"event":"response","id":1,"result":{...}} or {"event":"response","id":1,"error":{...}}
//   {"id":2,"cmd":"raw","text":"[2,\"x\",\"Foo\",{}]"}   send bytes as they are
//   {"id":3,"cmd":"set","key":"bootStatus","value":"Pending"}   change a behaviour option
//   {"id":4,"cmd":"fail","method":"StartTransaction","count":2}  answer the next N calls with
//       an InternalError CallError
//   {"id":5,"cmd":"disconnect","code":1000}  close the charge point's connection ("terminate": true
//       drops the TCP connection without a close frame)
//   {"id":6,"cmd":"quit"}

const readline = require('readline');
const { RPCServer, createRPCError } = require('ocpp-rpc');

const port = Number(process.argv[2]);
const options = Object.assign(
    { bootStatus: 'Accepted', heartbeatInterval: 300, authorize: {}, password: null },
    process.argv[3] ? JSON.parse(process.argv[3]) : {},
);

function out(obj) {
    process.stdout.write(JSON.stringify(obj) + '\n');
}

let current = null;               // the connected charge point (RPCServerClient)
let nextTransactionId = 1;
const failures = {};              // method -> remaining forced CallErrors
const answeredByMessageId = new Map();  // transaction messages already answered (redelivery)

function isoNow() {
    return new Date().toISOString();
}

function answer(method, params, messageId) {
    if (failures[method] > 0) {
        failures[method] -= 1;
        throw createRPCError('InternalError', 'forced failure for the test');
    }
    switch (method) {
        case 'BootNotification':
            return {
                status: options.bootStatus,
                currentTime: isoNow(),
                interval: options.bootStatus === 'Accepted' ? options.heartbeatInterval : (options.bootRetry || 5),
            };
        case 'Heartbeat':
            return { currentTime: isoNow() };
        case 'Authorize': {
            const status = options.authorize[params.idTag] || 'Accepted';
            const info = { status };
            if (options.parents && options.parents[params.idTag]) info.parentIdTag = options.parents[params.idTag];
            return { idTagInfo: info };
        }
        case 'StartTransaction': {
            if (answeredByMessageId.has(messageId)) return answeredByMessageId.get(messageId);
            const status = options.authorize[params.idTag] || 'Accepted';
            const result = { transactionId: nextTransactionId++, idTagInfo: { status } };
            answeredByMessageId.set(messageId, result);
            return result;
        }
        case 'StopTransaction':
            return params.idTag ? { idTagInfo: { status: 'Accepted' } } : {};
        case 'DataTransfer':
            return { status: 'UnknownVendorId' };
        case 'MeterValues':
        case 'StatusNotification':
        case 'FirmwareStatusNotification':
        case 'DiagnosticsStatusNotification':
            return {};
        default:
            throw createRPCError('NotImplemented', `no handler for ${method}`);
    }
}

async function main() {
    const server = new RPCServer({
        protocols: ['ocpp1.6'],
        strictMode: true,
        callTimeoutMs: 10000,
        pingIntervalMs: 600000,
    });

    server.auth((accept, reject, handshake) => {
        const password = handshake.password ? handshake.password.toString('utf8') : null;
        out({ event: 'handshake', identity: handshake.identity, password, endpoint: handshake.endpoint });
        if (options.password !== null && password !== options.password) {
            reject(401);
            return;
        }
        accept({});
    });

    server.on('client', (client) => {
        current = client;
        out({ event: 'connected', identity: client.identity, protocol: client.protocol });
        client.on('strictValidationFailure', (ev) => {
            out({
                event: 'strictValidationFailure', method: ev.method, messageId: ev.messageId,
                outbound: ev.outbound, isCall: ev.isCall, error: String(ev.error && ev.error.message),
                params: ev.params, result: ev.result,
            });
        });
        client.on('badMessage', (ev) => {
            out({ event: 'badMessage', text: ev.buffer.toString('utf8'), error: String(ev.error && ev.error.message) });
        });
        client.on('close', (ev) => {
            out({ event: 'disconnected', code: ev.code });
            if (current === client) current = null;
        });
        client.handle(({ method, params, messageId }) => {
            let result;
            try {
                result = answer(method, params, messageId);
            } catch (err) {
                out({ event: 'call', method, params, messageId, error: err.rpcErrorCode || String(err) });
                throw err;
            }
            out({ event: 'call', method, params, messageId, result });
            return result;
        });
    });

    await server.listen(port, '127.0.0.1');
    out({ event: 'listening', port });

    const rl = readline.createInterface({ input: process.stdin });
    rl.on('line', async (line) => {
        if (!line.trim()) return;
        let cmd;
        try {
            cmd = JSON.parse(line);
        } catch (err) {
            out({ event: 'commandError', error: `bad JSON: ${err.message}` });
            return;
        }
        const id = cmd.id;
        try {
            switch (cmd.cmd) {
                case 'call': {
                    if (!current) throw new Error('no charge point connected');
                    try {
                        const result = await current.call(cmd.method, cmd.params || {});
                        out({ event: 'response', id, method: cmd.method, result });
                    } catch (err) {
                        out({ event: 'response', id, method: cmd.method,
                              error: { code: err.rpcErrorCode || 'Error', message: String(err.message), details: err.details || {} } });
                    }
                    break;
                }
                case 'raw': {
                    if (!current) throw new Error('no charge point connected');
                    current.sendRaw(cmd.text);
                    out({ event: 'response', id, result: 'sent' });
                    break;
                }
                case 'set':
                    options[cmd.key] = cmd.value;
                    out({ event: 'response', id, result: 'ok' });
                    break;
                case 'fail':
                    failures[cmd.method] = cmd.count;
                    out({ event: 'response', id, result: 'ok' });
                    break;
                case 'disconnect':
                    if (current) {
                        const c = current;
                        await c.close({ code: cmd.code || 1000, force: !!cmd.terminate, awaitPending: false });
                    }
                    out({ event: 'response', id, result: 'ok' });
                    break;
                case 'quit':
                    out({ event: 'response', id, result: 'ok' });
                    await server.close({ force: true });
                    process.exit(0);
                    break;
                default:
                    throw new Error(`unknown command ${cmd.cmd}`);
            }
        } catch (err) {
            out({ event: 'response', id, error: { code: 'CommandError', message: String(err.message) } });
        }
    });
    rl.on('close', async () => {
        await server.close({ force: true });
        process.exit(0);
    });
}

main().catch((err) => {
    out({ event: 'fatal', error: String(err && err.stack) });
    process.exit(1);
});
