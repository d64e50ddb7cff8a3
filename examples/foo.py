"""The ``Foo`` class that the seed's simplex example imports."""


class Foo:
    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        return self.name
