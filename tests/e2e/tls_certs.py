"""Test certificates made with the openssl CLI in a temp dir, for the TLS end-to-end tests.

    pki = Pki(tmp_path)                       # a CA: pki.ca_cert
    cert, key = pki.leaf("a", ["a.test", "*.wild.test"])
    old, old_key = pki.leaf("old", ["old.test"], expired=True)
    self_cert, self_key = pki.leaf("self", ["self.test"], self_signed=True)
    pki.ocsp_response(cert, "a.der")          # a DER OCSP response for cert, signed by the CA
    pki.revoke(cert)                          # later responses say "revoked"

Keys are EC P-256; leaves are issued with `openssl ca` (which can back-date an expired one).
"""
import os
import subprocess

CA_CONFIG = """[ca]
default_ca = edge
[edge]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}
serial = {dir}/serial
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[any]
commonName = supplied
"""


def openssl(*args, cwd=None):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{r.stderr}")
    return r.stdout


class Pki:
    def __init__(self, directory, ca_name="edgecached test CA"):
        self.dir = str(directory)
        os.makedirs(self.dir, exist_ok=True)
        self.ca_key = os.path.join(self.dir, "ca.key")
        self.ca_cert = os.path.join(self.dir, "ca.pem")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", self.ca_key, "-out", self.ca_cert, "-days", "30",
                "-subj", f"/CN={ca_name}",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self.ca_config = os.path.join(self.dir, "ca.cnf")
        with open(self.ca_config, "w") as f:
            f.write(CA_CONFIG.format(dir=self.dir))
        open(os.path.join(self.dir, "index.txt"), "w").close()
        with open(os.path.join(self.dir, "serial"), "w") as f:
            f.write("1000\n")

    def leaf(self, name, sans, expired=False, self_signed=False):
        """Writes <name>.pem and <name>.key; returns their paths."""
        key = os.path.join(self.dir, f"{name}.key")
        cert = os.path.join(self.dir, f"{name}.pem")
        san = "subjectAltName=" + ",".join(f"DNS:{s}" for s in sans)
        common = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                  "-keyout", key, "-subj", f"/CN={sans[0]}", "-addext", san]
        if self_signed:
            openssl("req", "-x509", *common, "-out", cert, "-days", "30")
            return cert, key
        csr = os.path.join(self.dir, f"{name}.csr")
        openssl("req", "-new", *common, "-out", csr)
        dates = (["-startdate", "20200101000000Z", "-enddate", "20200201000000Z"] if expired
                 else ["-days", "30"])
        openssl("ca", "-batch", "-config", self.ca_config, "-cert", self.ca_cert,
                "-keyfile", self.ca_key, "-in", csr, "-out", cert, "-notext", *dates)
        return cert, key

    def ocsp_response(self, cert, out, days=1):
        """Writes a DER OCSP response for `cert` (one of our leaves) to `out`, signed by the CA,
        with the status the CA's index holds (good until revoke())."""
        request = out + ".req"
        openssl("ocsp", "-issuer", self.ca_cert, "-cert", cert, "-no_nonce", "-reqout", request)
        openssl("ocsp", "-index", os.path.join(self.dir, "index.txt"), "-rsigner", self.ca_cert,
                "-rkey", self.ca_key, "-CA", self.ca_cert, "-reqin", request, "-respout", out,
                "-ndays", str(days))
        return out

    def revoke(self, cert):
        openssl("ca", "-config", self.ca_config, "-cert", self.ca_cert, "-keyfile", self.ca_key,
                "-revoke", cert)
