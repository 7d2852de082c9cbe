"""Test certificates made with the `openssl` command line (Debian's openssl): a private CA, server
certificates for chosen names (RSA or ECDSA), an expired one, a client certificate, and an OCSP
response for a server certificate signed by the CA. Nothing here is haven code: the files are what
an operator would hand haven."""

import pathlib
import subprocess


def _run(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {r.stderr}")
    return r.stdout


class CA:
    """A certificate authority in `workdir` that signs leaf certificates."""

    def __init__(self, workdir: pathlib.Path, name: str = "haven-test-ca"):
        self.dir = pathlib.Path(workdir) / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cert = self.dir / "ca.pem"
        self.key = self.dir / "ca.key"
        self.serial = 1000
        self.index = self.dir / "index.txt"
        self.index.write_text("")
        _run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(self.key), "-out", str(self.cert), "-days", "30", "-subj", f"/CN={name}",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=self.dir)

    def issue(self, name: str, dns=(), ips=(), kind: str = "ec", days: int = 30, start: str | None = None,
              end: str | None = None, client: bool = False):
        """Returns (cert_path, key_path). `start`/`end`: validity as YYYYMMDDHHMMSSZ (for an expired
        certificate); otherwise `days` from now."""
        self.serial += 1
        key = self.dir / f"{name}.key"
        csr = self.dir / f"{name}.csr"
        cert = self.dir / f"{name}.pem"
        newkey = ["-newkey", "rsa:2048"] if kind == "rsa" else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        _run("req", "-new", *newkey, "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={name}",
             cwd=self.dir)
        sans = [f"DNS:{d}" for d in dns] + [f"IP:{i}" for i in ips]
        ext = self.dir / f"{name}.ext"
        lines = ["basicConstraints=CA:FALSE",
                 "extendedKeyUsage=" + ("clientAuth" if client else "serverAuth")]
        if sans:
            lines.append("subjectAltName=" + ",".join(sans))
        ext.write_text("\n".join(lines) + "\n")
        if start or end:
            # `openssl ca` is the tool that takes explicit dates.
            conf = self.dir / "ca.cnf"
            conf.write_text(
                "[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\nnew_certs_dir=.\ndefault_md=sha256\n"
                "policy=p\nunique_subject=no\nserial=serial.txt\n[p]\ncommonName=supplied\n")
            (self.dir / "serial.txt").write_text(f"{self.serial:04X}\n")
            _run("ca", "-batch", "-config", str(conf), "-cert", str(self.cert), "-keyfile", str(self.key),
                 "-in", str(csr), "-out", str(cert), "-startdate", start or "20200101000000Z",
                 "-enddate", end or "20300101000000Z", "-extfile", str(ext), "-notext", cwd=self.dir)
        else:
            _run("x509", "-req", "-in", str(csr), "-CA", str(self.cert), "-CAkey", str(self.key),
                 "-set_serial", str(self.serial), "-days", str(days), "-out", str(cert), "-extfile", str(ext),
                 cwd=self.dir)
            serial_hex = f"{self.serial:X}"
            if len(serial_hex) % 2:
                serial_hex = "0" + serial_hex
            with self.index.open("a") as f:
                f.write(f"V\t300101000000Z\t\t{serial_hex}\tunknown\t/CN={name}\n")
        return cert, key

    def ocsp_response(self, cert: pathlib.Path) -> pathlib.Path:
        """A signed, successful OCSP response saying `cert` is good (DER)."""
        req = self.dir / (cert.stem + ".ocsp-req")
        resp = self.dir / (cert.stem + ".ocsp")
        _run("ocsp", "-issuer", str(self.cert), "-cert", str(cert), "-reqout", str(req), "-no_nonce", cwd=self.dir)
        _run("ocsp", "-index", str(self.index), "-rsigner", str(self.cert), "-rkey", str(self.key),
             "-CA", str(self.cert), "-reqin", str(req), "-respout", str(resp), "-ndays", "7", cwd=self.dir)
        return resp


def chain_file(cert: pathlib.Path, ca: CA) -> pathlib.Path:
    """The leaf followed by the CA certificate, as servers usually send it."""
    out = cert.with_suffix(".chain.pem")
    out.write_bytes(cert.read_bytes() + ca.cert.read_bytes())
    return out
