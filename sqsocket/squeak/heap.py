"""A Smalltalk-level view of a :class:`SqueakImage`: globals, classes, symbols, methods.

Squeak 2.2 shapes this module relies on (all fields 0-based):

* Behavior: ``superclass methodDict format``; ClassDescription adds
  ``instanceVariables organization``; Class adds ``subclasses name classPool
  sharedPools``; a Metaclass has ``thisClass`` at index 6.
* ``Smalltalk`` (special object 8) is a SystemDictionary, which like every Set in
  2.2 has the fields ``tally array``; ``array`` holds Associations (``key value``) or nil.
* MethodDictionary is a variable subclass of Dictionary: ``tally array`` and an
  indexable part of selectors; ``array`` holds the CompiledMethod for each selector
  at the same index.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqsocket.squeak.imagefile import (
    FMT_BYTES,
    FMT_VARIABLE,
    SPECIAL_CLASS_ARRAY,
    SPECIAL_CLASS_STRING,
    SPECIAL_SMALLTALK,
    SqueakImage,
    is_small_int,
    small_int_oop,
)

CLASS_SUPERCLASS = 0
CLASS_METHOD_DICT = 1
CLASS_NAME = 6
METACLASS_THIS_CLASS = 6  # 2.2 metaclasses have 7 fields; the last is thisClass
SET_ARRAY = 1
METHOD_DICT_ARRAY = 1
METHOD_DICT_FIXED = 2  # tally, array; selectors follow


@dataclass(frozen=True)
class MethodEntry:
    """One slot of a method dictionary: where the method is referenced from."""

    behavior: int  # class or metaclass oop
    selector: str
    method: int
    array: int  # the MethodDictionary's ``array`` (values) oop
    index: int  # slot in that array


class Heap:
    """Name-based lookups over the objects of an image."""

    def __init__(self, image: SqueakImage) -> None:
        self.image = image
        self._symbols: dict[str, int] | None = None
        self._globals: dict[str, int] | None = None

    # ------------------------------------------------------------- globals
    def globals(self) -> dict[str, int]:
        """Name → Association oop for every entry of the Smalltalk dictionary."""
        if self._globals is None:
            image = self.image
            smalltalk = image.special(SPECIAL_SMALLTALK)
            nil = image.nil
            found: dict[str, int] = {}
            for assoc in image.fields(image.fetch(smalltalk, SET_ARRAY)):
                if assoc == nil or is_small_int(assoc):
                    continue
                key = image.fetch(assoc, 0)
                if key != nil and image.obj(key).is_bytes:
                    found[image.bytes_of(key).decode("latin-1")] = assoc
            self._globals = found
        return self._globals

    def global_association(self, name: str) -> int:
        try:
            return self.globals()[name]
        except KeyError:
            raise KeyError(f"no global named {name} in the image") from None

    def global_value(self, name: str) -> int:
        return self.image.fetch(self.global_association(name), 1)

    # ------------------------------------------------------------- symbols
    def symbol(self, text: str) -> int:
        """The existing Symbol with this text (new Symbols would need interning)."""
        if self._symbols is None:
            symbol_class = self.global_value("Symbol")
            image = self.image
            self._symbols = {
                image.bytes_of(r.oop).decode("latin-1"): r.oop
                for r in image.objects
                if r.is_bytes and image.class_of(r.oop) == symbol_class
            }
        try:
            return self._symbols[text]
        except KeyError:
            raise KeyError(f"no Symbol #{text} in the image") from None

    # ------------------------------------------------------------- classes
    def class_name(self, behavior: int) -> str:
        """``Foo`` for a class, ``Foo class`` for its metaclass."""
        image = self.image
        metaclass = self.global_value("Metaclass")
        if image.class_of(behavior) == metaclass:
            return self.class_name(image.fetch(behavior, METACLASS_THIS_CLASS)) + " class"
        return image.bytes_of(image.fetch(behavior, CLASS_NAME)).decode("latin-1")

    def behavior(self, name: str) -> int:
        """Class or metaclass oop from ``Foo`` / ``Foo class``."""
        base, _, meta = name.partition(" ")
        cls = self.global_value(base)
        return self.image.class_of(cls) if meta == "class" else cls

    def all_classes(self) -> list[int]:
        """Every class reachable from Smalltalk, each followed by its metaclass."""
        image = self.image
        metaclass = self.global_value("Metaclass")
        result: list[int] = []
        for assoc in self.globals().values():
            value = image.fetch(assoc, 1)
            if is_small_int(value) or not image.has_object(value):
                continue
            meta = image.class_of(value)
            if image.class_of(meta) == metaclass and image.fetch(meta, METACLASS_THIS_CLASS) == (
                value
            ):
                result += [value, meta]
        return result

    # ------------------------------------------------------------- methods
    def methods_of(self, behavior: int) -> Iterator[MethodEntry]:
        image = self.image
        nil = image.nil
        mdict = image.fetch(behavior, CLASS_METHOD_DICT)
        if mdict == nil:
            return
        array = image.fetch(mdict, METHOD_DICT_ARRAY)
        selectors = image.fields(mdict)[METHOD_DICT_FIXED:]
        for index, selector in enumerate(selectors):
            if selector == nil:
                continue
            method = image.fetch(array, index)
            yield MethodEntry(
                behavior, image.bytes_of(selector).decode("latin-1"), method, array, index
            )

    def all_methods(self) -> Iterator[MethodEntry]:
        for behavior in self.all_classes():
            yield from self.methods_of(behavior)

    def method(self, class_name: str, selector: str) -> MethodEntry:
        behavior = self.behavior(class_name)
        for entry in self.methods_of(behavior):
            if entry.selector == selector:
                return entry
        raise KeyError(f"{class_name}>>{selector} not found")

    # ------------------------------------------------------------- new objects
    def new_string(self, text: str | bytes) -> int:
        data = text.encode("latin-1") if isinstance(text, str) else text
        return self.image.append_object(
            self.image.special(SPECIAL_CLASS_STRING), FMT_BYTES, data=data
        )

    def new_array(self, items: list[int]) -> int:
        return self.image.append_object(
            self.image.special(SPECIAL_CLASS_ARRAY), FMT_VARIABLE, pointers=items
        )

    def new_named_primitive_spec(self, module: str, function: str) -> int:
        """``#('Module' 'function' 0 0)``: the literal a primitive-117 method starts with.

        The VM reads module and function names from the first two slots and caches
        its lookup in the last two (session id, function index); 0 means "not yet".
        """
        return self.new_array(
            [self.new_string(module), self.new_string(function), small_int_oop(0), small_int_oop(0)]
        )
