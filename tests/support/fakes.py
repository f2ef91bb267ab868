"""Fakes of the outside world shared by the jobs and sessions unit tests."""

from __future__ import annotations


class FakeFiles:
    """UserFiles in memory: {path: bytes}; dirs remembered with their owner."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.dirs: dict[str, str] = {}
        self.links: dict[str, str] = {}  # path → target: what `kinds` calls a symbolic link

    def make_dirs(self, user, *paths, mode=0o700):
        for path in paths:
            self.dirs[path] = user

    def write(self, user, path, data):
        self.files[path] = data if isinstance(data, bytes) else data.encode()

    def size(self, user, path):
        return len(self.files[path]) if path in self.files else None

    def kinds(self, user, paths):
        found = {}
        for path in paths:
            if path in self.links:
                found[path] = ("symbolic link", len(self.links[path]))
            elif path in self.files:
                found[path] = ("regular file" if self.files[path] else "regular empty file",
                               len(self.files[path]))
            elif path in self.dirs or any(k.startswith(path + "/")
                                          for k in [*self.files, *self.dirs]):
                found[path] = ("directory", 4096)
        return found

    def read_range(self, user, path, offset, length, *, nofollow=False):
        return self.files.get(path, b"")[offset:offset + length]

    def stream_range(self, user, path, offset=0, length=None, *, nofollow=False):
        """In chunks of 5 bytes, so that readers meet chunk boundaries."""
        data = self.files.get(path, b"")
        end = len(data) if length is None else offset + length
        for i in range(offset, end, 5):
            yield data[i:min(i + 5, end)]

    def remove_tree(self, user, path):
        for key in [k for k in self.files if k.startswith(path + "/")]:
            del self.files[key]
        self.dirs.pop(path, None)
