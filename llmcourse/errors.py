"""The course's expected failures: one family of exceptions, each saying where it happened.

Everything a user can get wrong (an input file, a model directory, a command-line
argument, an output path, a text, a cache entry) raises a subclass of `CourseError`.
Its message is one Chinese line that names the file and, where it applies, the line
or the field. The command line prints that line and exits with status 2; the HTTP
service answers with a 4xx status. Any other exception is a bug in the course.
Taught in chapter 5 and on the deployment page.
"""

from __future__ import annotations

import os


class CourseError(Exception):
    """An expected failure with its place: file, line and field are each optional.

    Taught in chapter 5 and on the deployment page.
    """

    def __init__(
        self, problem: str, path: str | os.PathLike | None = None, line: int | None = None, field: str | None = None
    ):
        self.problem = problem
        self.path = None if path is None else str(path)
        self.line = line
        self.field = field
        super().__init__(self.describe())

    def describe(self) -> str:
        """The one line shown to the user: "文件 第 N 行 字段 x：问题"."""
        where = [
            part
            for part in (
                self.path,
                None if self.line is None else f"第 {self.line} 行",
                None if self.field is None else f"字段 {self.field}",
            )
            if part
        ]
        return f"{' '.join(where)}：{self.problem}" if where else self.problem


class UsageError(CourseError):
    """A command-line argument, an option combination or an output path that cannot work.

    Taught in chapter 5 and on the deployment page.
    """
