"""Security profile 2 (wss + Basic Auth), FTP transfers and clock-aligned meter values.

The central system is the independent Node one (ocpp-rpc, strict mode); TLS is terminated in
front of it by a real ``ssl`` server with a certificate made here, and the FTP server is a real
pyftpdlib process on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import datetime
import io
import json
import sys
import zipfile
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import ssl
import ipaddress

from controller.ocpp.firmware import FirmwareService
from controller.ocpp.id_tag_info import format_ocpp_time
from tests.ocpp_cs_driver import CentralSystem, Event, free_port
from tests.ocpp_rig import START, ObservedClock, Rig, make_rig, settings_for

PASSWORD = "s3cret-Profile2"
IMAGE = b"MQ200-FTP-FIRMWARE-" + bytes(range(256)) * 32


# ---------------------------------------------------------------- TLS in front of the Node CS

@dataclass
class TestCertificates:
    __test__ = False  # a data holder, not a test class

    ca_file: Path
    cert_file: Path
    key_file: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_pki(directory: Path) -> TestCertificates:
    """A self-signed test CA and a server certificate for 127.0.0.1 / localhost signed by it."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("MQ200 test CA")).issuer_name(_name("MQ200 test CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1")).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pki = TestCertificates(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    pki.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    pki.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return pki


class TlsTerminator:
    """Accepts TLS on 127.0.0.1 and pipes the plaintext to the Node central system's port."""

    def __init__(self, pki: TestCertificates, backend_port: int) -> None:
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(pki.cert_file, pki.key_file)
        self._backend_port = backend_port
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self.accepted = 0  # TLS handshakes that completed
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self._context)
        self.port = int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"wss://127.0.0.1:{self.port}/ocpp"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._backend_port)
        except OSError:
            writer.close()
            return
        tasks = {asyncio.ensure_future(self._pipe(reader, up_writer)),
                 asyncio.ensure_future(self._pipe(up_reader, writer))}
        self._pipes.update(tasks)
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
            self._pipes.discard(task)
        for w in (writer, up_writer):
            w.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(OSError, asyncio.IncompleteReadError):
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()

    async def stop(self) -> None:
        for task in list(self._pipes):
            task.cancel()
        if self._server is not None:
            self._server.close()
            with suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)


@pytest.fixture
async def secure_cs(tmp_path: Path) -> AsyncIterator[tuple[CentralSystem, TlsTerminator, TestCertificates]]:
    pki = make_pki(tmp_path)
    cs = await CentralSystem.start({"password": PASSWORD})
    tls = TlsTerminator(pki, cs.port)
    await tls.start()
    yield cs, tls, pki
    await tls.stop()
    await cs.stop()


def handshakes(cs: CentralSystem) -> list[Event]:
    return [e for e in cs.events if e.get("event") == "handshake"]


async def test_wss_with_basic_auth_boots(
    tmp_path: Path, secure_cs: tuple[CentralSystem, TlsTerminator, TestCertificates]
) -> None:
    cs, tls, pki = secure_cs
    rig = await make_rig(tmp_path, cs=cs, central_system_url=tls.url,
                         basic_auth_password=PASSWORD, ca_file=str(pki.ca_file))
    try:
        await rig.booted()
        shake = handshakes(cs)[0]
        assert shake["identity"] == "MQ200-TEST" and shake["password"] == PASSWORD
        boot = cs.calls("BootNotification")[0]
        assert boot["result"]["status"] == "Accepted"
        assert tls.accepted >= 1 and rig.link.connects == 1
        # the session works both ways over TLS
        answer = await cs.call("GetConfiguration", {"key": ["ConnectionTimeOut"]})
        assert answer["result"]["configurationKey"][0]["value"] == "900"
    finally:
        await rig.stop()
    rig.assert_strict_clean()


def handshake_count_at_least(cs: CentralSystem, count: int) -> Callable[[Event], bool]:
    return lambda _event: len(handshakes(cs)) >= count


async def test_wss_wrong_password_is_refused_and_retried_with_back_off(
    tmp_path: Path, secure_cs: tuple[CentralSystem, TlsTerminator, TestCertificates]
) -> None:
    cs, tls, pki = secure_cs
    rig = await make_rig(tmp_path, cs=cs, central_system_url=tls.url,
                         basic_auth_password="not-the-password", ca_file=str(pki.ca_file),
                         reconnect_min_delay=1.0, reconnect_max_delay=300.0)
    try:
        waits: list[float] = []
        for attempt in range(1, 4):
            await cs.wait_for(handshake_count_at_least(cs, attempt))
            await asyncio.wait_for(rig.link.backing_off.wait(), 10)
            deadline = rig.clock.next_deadline()
            assert deadline is not None
            waits.append(deadline - rig.clock.now())
            rig.clock.advance(deadline - rig.clock.now())  # the next handshake ends the wait
        await cs.wait_for(lambda e: len(handshakes(cs)) >= 4)
        assert all(h["password"] == "not-the-password" for h in handshakes(cs))
        assert rig.link.connects == 0 and cs.calls() == []
        assert [e for e in cs.events if e.get("event") == "connected"] == []
        # random back-off in [0.5, 1.5) x a delay that doubles: 1, 2, 4 s
        for wait, base in zip(waits, (1.0, 2.0, 4.0), strict=True):
            assert 0.5 * base <= wait < 1.5 * base, waits
    finally:
        await rig.stop()
    rig.assert_strict_clean()


async def test_wss_untrusted_certificate_never_connects(
    tmp_path: Path, secure_cs: tuple[CentralSystem, TlsTerminator, TestCertificates]
) -> None:
    cs, tls, _pki = secure_cs
    # no ca_file: the system store does not know the test CA
    rig = await make_rig(tmp_path, cs=cs, central_system_url=tls.url, basic_auth_password=PASSWORD)
    try:
        await asyncio.wait_for(rig.link.backing_off.wait(), 10)
        assert rig.link.connects == 0
        assert handshakes(cs) == [] and tls.accepted == 0
    finally:
        await rig.stop()
    rig.assert_strict_clean()


# ---------------------------------------------------------------- FTP transfers


@dataclass
class FtpServer:
    process: asyncio.subprocess.Process
    port: int
    root: Path

    def url(self, path: str, user: str = "mquser", password: str = "ftp-pass") -> str:
        return f"ftp://{user}:{password}@127.0.0.1:{self.port}{path}"


@pytest.fixture
async def ftp(tmp_path: Path) -> AsyncIterator[FtpServer]:
    root = tmp_path / "ftp-root"
    (root / "diag").mkdir(parents=True)
    (root / "fw.bin").write_bytes(IMAGE)
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pyftpdlib", "-i", "127.0.0.1", "-p", str(port), "-w",
        "-d", str(root), "-u", "mquser", "-P", "ftp-pass",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None

    async def started() -> None:
        assert process.stderr is not None
        while line := await process.stderr.readline():
            if b"starting FTP server" in line:
                return
        raise RuntimeError("pyftpdlib exited before listening")

    await asyncio.wait_for(started(), 15)
    drain = asyncio.ensure_future(_drain(process.stderr))
    yield FtpServer(process, port, root)
    process.terminate()
    await process.wait()
    drain.cancel()


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


@pytest.fixture
async def ftp_rig(tmp_path: Path) -> AsyncIterator[tuple[Rig, list[bytes]]]:
    installed: list[bytes] = []

    def install(image: bytes) -> bool:
        installed.append(image)
        return True

    cs = await CentralSystem.start()
    clock = ObservedClock(START)
    firmware = FirmwareService(settings_for(cs), clock, installer=install)
    rig = await make_rig(tmp_path, cs=cs, clock=clock, firmware=firmware)
    await rig.booted()
    yield rig, installed
    await rig.stop()
    await cs.stop()
    rig.assert_strict_clean()


def statuses(rig: Rig, method: str) -> list[str]:
    return [c["params"]["status"] for c in rig.cs.calls(method)]


async def test_update_firmware_over_ftp(ftp_rig: tuple[Rig, list[bytes]], ftp: FtpServer) -> None:
    rig, installed = ftp_rig
    answer = await rig.cs.call("UpdateFirmware", {
        "location": ftp.url("/fw.bin"), "retrieveDate": format_ocpp_time(START + 30)})
    assert answer["result"] == {}
    await rig.clock.advance_to_timer(30)
    await rig.cs.wait_for(lambda e: "Installed" in statuses(rig, "FirmwareStatusNotification"),
                          timeout=20)
    assert statuses(rig, "FirmwareStatusNotification") == [
        "Downloading", "Downloaded", "Installing", "Installed"]
    assert installed == [IMAGE]
    await rig.cs.wait_for(lambda e: e.get("event") == "disconnected")  # reboot after install
    assert rig.station.resets == [True]


async def test_update_firmware_over_ftp_wrong_password_fails(
    ftp_rig: tuple[Rig, list[bytes]], ftp: FtpServer
) -> None:
    rig, installed = ftp_rig
    await rig.cs.call("UpdateFirmware", {"location": ftp.url("/fw.bin", password="wrong"),
                                         "retrieveDate": format_ocpp_time(START),
                                         "retries": 1, "retryInterval": 20})
    await rig.clock.advance_to_timer(0)
    await rig.clock.advance_to_timer(20, timeout=20)
    await rig.cs.wait_for(lambda e: "DownloadFailed" in statuses(rig, "FirmwareStatusNotification"),
                          timeout=20)
    assert statuses(rig, "FirmwareStatusNotification") == [
        "Downloading", "Downloading", "DownloadFailed"]
    assert installed == []


async def test_get_diagnostics_over_ftp(ftp_rig: tuple[Rig, list[bytes]], ftp: FtpServer) -> None:
    rig, _ = ftp_rig
    answer = await rig.cs.call("GetDiagnostics", {"location": ftp.url("/diag/")})
    name = answer["result"]["fileName"]
    assert name.startswith("MQ200-TEST-diagnostics-") and name.endswith(".zip")
    await rig.cs.wait_for(lambda e: "Uploaded" in statuses(rig, "DiagnosticsStatusNotification"),
                          timeout=20)
    assert statuses(rig, "DiagnosticsStatusNotification") == ["Uploading", "Uploaded"]
    stored = ftp.root / "diag" / name
    with zipfile.ZipFile(io.BytesIO(stored.read_bytes())) as archive:
        snapshot = json.loads(archive.read("diagnostics.json"))
    assert snapshot["charge_point_id"] == "MQ200-TEST"
    assert snapshot["configuration"]["SupportedFileTransferProtocols"] == "HTTP,HTTPS,FTP"


# ---------------------------------------------------------------- clock-aligned meter values

ALIGNED = 60
MEASURANDS = ["Energy.Active.Import.Register", "Current.Import", "Voltage"]


def epoch(timestamp: str) -> float:
    return datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def is_aligned(timestamp: str, interval: int) -> bool:
    return (epoch(timestamp) % 86400) % interval == 0


def contexts(meter_value: dict[str, Any]) -> set[str]:
    return {sv["context"] for sv in meter_value["sampledValue"]}


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    rig = await make_rig(tmp_path)
    await rig.booted()
    yield rig
    await rig.stop()
    await rig.cs.stop()
    rig.assert_strict_clean()


async def advance_to_next_aligned(rig: Rig) -> float:
    """Step the virtual clock to the next multiple of ALIGNED s since midnight UTC."""
    now = rig.clock.now()
    due = now - (now % ALIGNED) + ALIGNED
    await rig.clock.timer_due_by(due)
    rig.clock.advance(due - now)
    return due


async def test_clock_aligned_meter_values_and_stop_transaction_data(rig: Rig) -> None:
    for key, value in (("ClockAlignedDataInterval", str(ALIGNED)),
                       ("MeterValuesAlignedData", ",".join(MEASURANDS)),
                       ("StopTxnAlignedData", "Energy.Active.Import.Register"),
                       ("StopTxnSampledData", "Energy.Active.Import.Register,Voltage")):
        answer = await rig.cs.call("ChangeConfiguration", {"key": key, "value": value})
        assert answer["result"]["status"] == "Accepted", (key, answer)

    # idle: the aligned reading goes out on connector 0, without a transaction
    due = await advance_to_next_aligned(rig)
    idle = await rig.cs.wait_call("MeterValues")
    assert idle["params"]["connectorId"] == 0 and "transactionId" not in idle["params"]
    [reading] = idle["params"]["meterValue"]
    assert epoch(reading["timestamp"]) == due and is_aligned(reading["timestamp"], ALIGNED)
    assert contexts(reading) == {"Sample.Clock"}
    assert [sv["measurand"] for sv in reading["sampledValue"]] == MEASURANDS

    # during a transaction: queued with it, carrying its transactionId
    rig.station.plug_in()
    rig.station.present_tag("TAG1")
    start = await rig.cs.wait_call("StartTransaction")
    tx = start["result"]["transactionId"]
    mark = len(rig.cs.events)
    instants = [await advance_to_next_aligned(rig) for _ in range(3)]
    await rig.cs.wait_for(lambda e: len(rig.cs.calls("MeterValues")) >= 4, after=mark)
    in_tx = rig.cs.calls("MeterValues")[1:]
    assert [c["params"]["transactionId"] for c in in_tx] == [tx, tx, tx]
    assert [epoch(c["params"]["meterValue"][0]["timestamp"]) for c in in_tx] == instants
    energies = []
    for call in in_tx:
        [mv] = call["params"]["meterValue"]
        assert contexts(mv) == {"Sample.Clock"} and is_aligned(mv["timestamp"], ALIGNED)
        energies.append(int(next(sv["value"] for sv in mv["sampledValue"]
                                 if sv["measurand"] == "Energy.Active.Import.Register")))
    assert energies == sorted(energies) and energies[-1] > energies[0]

    rig.clock.advance(7)  # stop between aligned instants
    rig.station.unplug()
    stop = await rig.cs.wait_call("StopTransaction")
    data = stop["params"]["transactionData"]
    assert [contexts(mv) for mv in data] == (
        [{"Transaction.Begin"}] + [{"Sample.Clock"}] * 3 + [{"Transaction.End"}])
    assert [epoch(mv["timestamp"]) for mv in data[1:4]] == instants
    assert [sv["measurand"] for sv in data[0]["sampledValue"]] == [
        "Energy.Active.Import.Register", "Voltage"]  # StopTxnSampledData
    assert [sv["measurand"] for sv in data[1]["sampledValue"]] == [
        "Energy.Active.Import.Register"]  # StopTxnAlignedData
    assert epoch(data[-1]["timestamp"]) == instants[-1] + 7
    assert int(data[-1]["sampledValue"][0]["value"]) == stop["params"]["meterStop"]


async def test_clock_aligned_interval_zero_sends_nothing(rig: Rig) -> None:
    await rig.cs.call("ChangeConfiguration", {"key": "ClockAlignedDataInterval", "value": str(ALIGNED)})
    await rig.cs.call("ChangeConfiguration", {"key": "ClockAlignedDataInterval", "value": "0"})
    rig.clock.advance(3 * ALIGNED)
    heartbeat_mark = len(rig.cs.events)
    await rig.cs.call("TriggerMessage", {"requestedMessage": "Heartbeat"})
    await rig.cs.wait_call("Heartbeat", after=heartbeat_mark)
    assert rig.cs.calls("MeterValues") == []
