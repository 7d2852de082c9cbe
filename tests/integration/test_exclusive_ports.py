"""A port another process listens on is refused, at start and on reload — even another haven,
which SO_REUSEPORT would otherwise let join the port and silently take a share of its traffic
(the admin API included). A reload that only renames a listener on an address haven already
holds is not affected."""

import signal
import subprocess

from harness import HAVEN_BIN, free_port, make_config, scaled, wait_until


def config(backend, port, admin_port, name="web"):
    cfg = make_config(pools={"p": [backend.address]})
    cfg["listeners"][0]["listen"] = f"127.0.0.1:{port}"
    cfg["listeners"][0]["name"] = name
    cfg["admin"] = {"listen": f"127.0.0.1:{admin_port}"}
    return cfg


def run_second(tmp_path, cfg):
    from harness import to_yaml
    path = tmp_path / "second.yaml"
    path.write_text(to_yaml(cfg) + "\n")
    return subprocess.run([HAVEN_BIN, "run", "-c", str(path)], capture_output=True, text=True,
                          timeout=scaled(20))


def test_a_second_haven_on_the_same_data_port_exits_1(spawn, tmp_path):
    b = spawn.backend("b1")
    port = free_port()
    first = spawn.haven(config(b, port, free_port()))
    second = run_second(tmp_path, config(b, port, free_port()))
    assert second.returncode == 1, second.stderr
    assert f"cannot listen on 127.0.0.1:{port} (another process listens there)" in second.stderr
    assert "haven ready" not in second.stderr
    # Every request still reaches the first instance (it alone holds the port).
    for _ in range(8):
        assert first.get("/").status == 200
    assert first.alive()


def test_a_second_haven_on_the_same_admin_port_exits_1(spawn, tmp_path):
    b = spawn.backend("b1")
    admin_port = free_port()
    spawn.haven(config(b, free_port(), admin_port))
    second = run_second(tmp_path, config(b, free_port(), admin_port))
    assert second.returncode == 1, second.stderr
    assert f"admin: cannot listen on 127.0.0.1:{admin_port}" in second.stderr


def test_a_reload_adding_a_listener_on_a_port_another_process_holds_is_refused(spawn):
    b = spawn.backend("b1")
    taken = free_port()
    holder = spawn.haven(config(b, taken, free_port()), name="holder")
    mine_port = free_port()
    cfg = config(b, mine_port, free_port())
    haven = spawn.haven(cfg)
    cfg2 = config(b, mine_port, int(cfg["admin"]["listen"].rsplit(":", 1)[1]))
    cfg2["listeners"].append({"name": "extra", "listen": f"127.0.0.1:{taken}", "mode": "http",
                              "routes": [{"pool": "p"}]})
    haven.reload(cfg2)
    wait_until(lambda: "reload refused" in haven.log(), scaled(5), what="the reload refused")
    assert f"cannot listen on 127.0.0.1:{taken} (another process listens there)" in haven.log()
    assert haven.get("/").status == 200, "the running configuration keeps serving"
    for _ in range(8):
        assert holder.get("/").status == 200


def test_a_reload_renaming_a_listener_on_its_own_address_works(spawn):
    b = spawn.backend("b1")
    port, admin_port = free_port(), free_port()
    haven = spawn.haven(config(b, port, admin_port))
    haven.reload(config(b, port, admin_port, name="renamed"))
    wait_until(lambda: "reload: configuration applied" in haven.log(), scaled(5), what="the reload applied")
    assert "reload refused" not in haven.log()
    assert haven.get("/").status == 200
    haven.send_signal(signal.SIGTERM)
    assert haven.proc.wait(timeout=scaled(10)) == 0
