"""SIGKILL kumod in the middle of a write burst: every acknowledged write survives the restart."""

import threading

import kumo_e2e as k


def test_kill9_mid_burst_keeps_every_acknowledged_write(tmp_path):
    keydir = tmp_path / "keys"
    keydir.mkdir()
    pubs = [k.ssh_keygen(keydir, "ed25519", name=f"k{i}")[1].read_bytes() for i in range(8)]
    files = k.AwsFiles(tmp_path / "aws-config", tmp_path / "aws-credentials")
    daemon = k.Kumod(tmp_path / "data")
    try:
        daemon.start()
        acct = k.create_account(daemon.data_dir, daemon.endpoint, files)
        ec2 = k.make_client(acct)
        attempted, acked, failures = [], [], []
        stop = threading.Event()

        def writer():
            i = 0
            while not stop.is_set():
                name = f"burst-{i:05d}"
                attempted.append(name)
                try:
                    ec2.import_key_pair(KeyName=name, PublicKeyMaterial=pubs[i % len(pubs)])
                except Exception as e:  # noqa: BLE001 - whatever the dying daemon caused
                    failures.append(e)
                    return
                acked.append(name)
                i += 1

        t = threading.Thread(target=writer, daemon=True)
        t.start()
        try:
            k.wait_until(lambda: len(acked) >= 150 or not t.is_alive(), 60,
                         "150 acknowledged imports", interval=0.005)
            assert t.is_alive(), f"writer stopped early: {failures}"
            daemon.kill9()  # mid-burst: the writer is still sending
        finally:
            stop.set()
            t.join(timeout=30)
        assert not t.is_alive()
        assert failures, "the writer should have seen the daemon die"
        assert len(acked) >= 150

        daemon.start()
        after = k.make_client(acct).describe_key_pairs()["KeyPairs"]
        names = [kp["KeyName"] for kp in after]
        ids = [kp["KeyPairId"] for kp in after]
        assert len(names) == len(set(names)), "duplicate key names after recovery"
        assert len(ids) == len(set(ids)), "duplicate key ids after recovery"
        missing = set(acked) - set(names)
        assert not missing, f"{len(missing)} acknowledged keys lost: {sorted(missing)[:10]}"
        assert set(names) <= set(attempted)
        # The store is consistent, not just readable: it still takes writes.
        k.make_client(acct).import_key_pair(KeyName="after-restart", PublicKeyMaterial=pubs[0])
    finally:
        daemon.stop()
