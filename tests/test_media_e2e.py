"""One decision for a file, whoever reads it: `check` against a local server serving each kind
of file, `inspect` on the same files on disk, and a real Scrapy crawl over the same URLs; and
what an install without the `media` extra says."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mediafiles as mf
from conftest import json_lines
from servers import Resp, Site, serving

pytest.importorskip("PIL")
pytest.importorskip("pypdf")
pytest.importorskip("c2pa")

FILE_SIGNALS = {"tdmrep-epub", "tdmrep-pdf", "iptc", "c2pa", "declaration"}
HERE = Path(__file__).parent


def id3_mp3(tcop: str) -> bytes:
    from mutagen.id3 import ID3, TCOP, TPUB

    tags = ID3()
    tags.add(TCOP(encoding=3, text=[tcop]))
    tags.add(TPUB(encoding=3, text=["Columbia Records"]))
    out = io.BytesIO()
    tags.save(out)
    return out.getvalue() + b"\xff\xfb\x90\x00" + b"\x00" * 400


def sample_files(media: Path) -> dict[str, tuple[bytes, str, bool]]:
    """name -> (bytes, content type, allowed for train)."""
    read = lambda part: (media / part).read_bytes()  # noqa: E731
    reserve = mf.epub3_opf('<meta property="tdm:reservation">1</meta>'
                           '<meta property="tdm:policy">https://pub.example/policy</meta>')
    return {
        "iptc-2023.jpg": (read("iptc/IPTC-PhotometadataRef-Std2023.1.small.jpg"),
                          "image/jpeg", False),
        "getty.webp": (read("iptc/gettyimages-1404056433-1024x1024.webp"), "image/webp", False),
        "cawg.jpg": (read("c2pa/C_with_CAWG_data.jpg"), "image/jpeg", False),
        "plain.jpg": (read("c2pa/A.jpg"), "image/jpeg", True),
        "manifest-only.jpg": (read("c2pa/C.jpg"), "image/jpeg", True),
        "legacy.png": (read("c2pa/sample_c2pa.png"), "image/png", False),
        "made-xmp.png": (mf.image_with_xmp("PNG", mf.data_mining_xmp("DMI-PROHIBITED")),
                         "image/png", False),
        "signed.wav": (read("c2pa/sample1_signed.wav"), "audio/wav", False),
        "reserved.epub": (mf.epub(reserve), "application/epub+zip", False),
        "open.epub": (mf.epub(mf.epub3_opf('<meta property="tdm:reservation">0</meta>')),
                      "application/epub+zip", True),
        "reserved.pdf": (mf.pdf_with_xmp(media / "base" / "basic.pdf", mf.tdm_xmp("1")),
                         "application/pdf", False),
        "plain.pdf": (read("base/basic.pdf"), "application/pdf", True),
        # a PDF its server labels text/html: read as the PDF it begins as (files.file_kind)
        "mislabelled.pdf": (mf.pdf_with_xmp(media / "base" / "basic.pdf", mf.tdm_xmp("1")),
                            "text/html; charset=utf-8", False),
        "sony.mp3": (id3_mp3("(P) 2019 Sony Music Entertainment"), "audio/mpeg", False),
        "broken.mp4": (read("c2pa/malformed/nested_moov_1000.mp4"), "video/mp4", True),
    }


def file_view(decision: dict) -> tuple:
    """What a file's decision says about the file: the answer, and its file signals."""
    reasons = sorted((r["signal"], r["reserved"], r["evidence"], r.get("note"))
                     for r in decision["reasons"] if r["signal"] in FILE_SIGNALS)
    unchecked = sorted(u for u in decision["unchecked"] if u.split(":")[0] in
                       FILE_SIGNALS | {"iptc", "c2pa"})
    return decision["allowed"], decision["policy"], reasons, unchecked


@pytest.fixture
def served(media, tmp_path):
    samples = sample_files(media)
    folder = tmp_path / "files"
    folder.mkdir()
    site = Site()
    for name, (body, content_type, _) in samples.items():
        (folder / name).write_bytes(body)
        site.add(f"/f/{name}", Resp(200, body, [("Content-Type", content_type)]))
    with serving(site):
        yield site, folder, samples


def test_check_inspect_and_a_crawl_agree(served, cli, tmp_path):
    from test_scrapy_e2e import crawl

    site, folder, samples = served
    names = sorted(samples)
    urls = [f"{site.base}/f/{name}" for name in names]
    code, out, _ = cli("check", "--json", "--no-cache", *urls)
    checked = dict(zip(names, json_lines(out), strict=True))
    assert code == 1
    code, out, _ = cli("inspect", "--json", *[str(folder / n) for n in names])
    inspected = dict(zip(names, json_lines(out), strict=True))
    assert code == 1
    items, stats, audit, _ = crawl(tmp_path, urls, TDM_GUARD_MODE="tag",
                                   TDM_GUARD_AGENT="tdm-guard")
    crawled = {i["url"].rsplit("/", 1)[1]: i["decision"] for i in items}
    assert sorted(crawled) == names
    for name in names:
        expected = samples[name][2]
        views = [file_view(d[name]) for d in (checked, inspected, crawled)]
        assert views[0][0] is expected, (name, views[0])
        assert views[0] == views[1] == views[2], (name, views)
    assert stats["tdm_guard/tagged"] == sum(1 for _, _, ok in samples.values() if not ok)
    epub = checked["reserved.epub"]
    assert epub["policy"] == "https://pub.example/policy"
    assert "https://pub.example/policy" in epub["contacts"]


def test_block_mode_drops_reserved_files(served, tmp_path):
    from test_scrapy_e2e import crawl

    site, _, samples = served
    urls = [f"{site.base}/f/{name}" for name in sorted(samples)]
    items, stats, audit, _ = crawl(tmp_path, urls)
    delivered = sorted(i["url"].rsplit("/", 1)[1] for i in items)
    assert delivered == sorted(n for n, (_, _, ok) in samples.items() if ok)
    assert stats["tdm_guard/blocked/c2pa"] >= 3 and stats["tdm_guard/blocked/iptc"] >= 3
    assert stats["tdm_guard/blocked/tdmrep-epub"] == 1
    assert stats["tdm_guard/blocked/tdmrep-pdf"] == 2  # reserved.pdf, mislabelled.pdf


def test_check_caps_the_download_and_says_so(served, cli):
    site, _, _ = served
    code, out, _ = cli("check", "--json", "--no-cache", "--max-file-bytes", "4K",
                       f"{site.base}/f/reserved.pdf", f"{site.base}/f/cawg.jpg")
    pdf, jpeg = json_lines(out)
    assert any("tdmrep-pdf:" in u and "first part" in u for u in pdf["unchecked"])
    assert any(u.startswith("c2pa:") for u in jpeg["unchecked"])
    with pytest.raises(SystemExit) as exc:
        cli("check", "--max-file-bytes", "lots", site.base + "/f/plain.jpg")
    assert exc.value.code == 2


NO_MEDIA = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("c2pa", "PIL", "pypdf"):
            raise ImportError(f"blocked {name}")
sys.meta_path.insert(0, Block())
from tdm_guard.cli import main
sys.exit(main(["inspect", "--json", *sys.argv[1:]]))
"""


def test_without_the_media_extra_file_signals_are_unchecked(served, tmp_path):
    _, folder, _ = served
    names = ["cawg.jpg", "reserved.pdf", "reserved.epub", "plain.jpg"]
    proc = subprocess.run([sys.executable, "-c", NO_MEDIA, *[str(folder / n) for n in names]],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")})
    assert "Traceback" not in proc.stderr, proc.stderr
    cawg, pdf, epub, plain = [json.loads(line) for line in proc.stdout.splitlines()]
    for decision in (cawg, plain):
        assert "c2pa: install tdm-guard[media]" in decision["unchecked"]
        assert "iptc: install tdm-guard[media]" in decision["unchecked"]
        assert not [r for r in decision["reasons"] if r["signal"] in FILE_SIGNALS]
    assert "tdmrep-pdf: install tdm-guard[media]" in pdf["unchecked"]
    assert epub["allowed"] is False  # EPUB needs only the standard library
    assert proc.returncode == 1


def test_huge_and_hostile_files_keep_memory_bounded(tmp_path):
    """A 48 MiB PDF, a JPEG whose segments never end and a PNG of endless chunks, all over the
    16 MiB cap: check reads at most the cap, answers, and stays small."""
    import re

    mb = 1024 * 1024
    huge_pdf = b"%PDF-1.7\n" + b"0" * (48 * mb)
    endless_jpeg = b"\xff\xd8" + (b"\xff\xe1\xff\xff" + b"x" * 65533) * 400  # 25 MiB of APP1
    endless_png = b"\x89PNG\r\n\x1a\n" + (b"\x00\x00\xff\xf4tEXt" + b"y" * 65524
                                          + b"\x00\x00\x00\x00") * 400
    site = Site()
    site.add("/huge.pdf", Resp(200, huge_pdf, [("Content-Type", "application/pdf")]))
    site.add("/endless.jpg", Resp(200, endless_jpeg, [("Content-Type", "image/jpeg")]))
    site.add("/endless.png", Resp(200, endless_png, [("Content-Type", "image/png")]))
    with serving(site):
        proc = subprocess.run(
            [sys.executable, str(HERE / "run_measured.py"), "check", "--json", "--no-cache",
             *[site.base + p for p in ("/huge.pdf", "/endless.jpg", "/endless.png")]],
            capture_output=True, text=True, timeout=120,
            env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")})
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    pdf, jpeg, png = [json.loads(line) for line in proc.stdout.splitlines()]
    assert any("first part" in u for u in pdf["unchecked"])
    for result in (jpeg, png):
        assert result["allowed"] is True and "error" not in result
    rss_mb = int(re.search(r"VMHWM_KB=(\d+)", proc.stderr).group(1)) / 1024
    assert rss_mb < 250, rss_mb
