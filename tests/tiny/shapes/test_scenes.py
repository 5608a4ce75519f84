"""The shapes world: every caption names what its picture shows, and the read-back finds it."""

import itertools

import pytest
import torch

from na_accel.tiny.shapes.scenes import (COLOURS, POSITIONS, SHAPES, Scene, draw, prompt_scene, random_scene,
                                         read_picture, vocabulary)


@pytest.mark.parametrize("colour, position", itertools.product(COLOURS, POSITIONS))
def test_a_drawn_picture_reads_back_as_its_colour_and_position(colour, position):
    for shape in SHAPES:
        picture = draw(Scene(colour, shape, position, size=0.3), 64, 64)
        assert picture.shape == (3, 64, 64) and 0 <= picture.min() and picture.max() <= 1
        assert read_picture(picture) == (colour, position), shape


def test_a_background_alone_reads_as_nothing():
    empty = draw(Scene("red", "circle", "center", size=0.0), 64, 64)
    assert read_picture(empty) is None


def test_shapes_differ_in_area_as_their_geometry_says():
    areas = {shape: (draw(Scene("red", shape, "center", size=0.4), 128, 128)[0] > 0.5).float().mean().item()
             for shape in SHAPES}
    side = 0.4 * 0.9
    assert areas["square"] == pytest.approx(side**2, rel=0.05)
    assert areas["circle"] == pytest.approx(3.14159 * 0.2**2, rel=0.05)
    assert areas["triangle"] < areas["circle"] < areas["square"]


def test_captions_name_the_scene_and_parse_back():
    generator = torch.Generator().manual_seed(3)
    words = set(vocabulary())
    for index in range(200):
        scene = random_scene(generator)
        caption = scene.caption(template=index)
        assert prompt_scene(caption) == (scene.colour, scene.shape, scene.position), caption
        assert set(caption.replace(",", " ").split()) <= words, caption


def test_random_scenes_are_reproducible_and_cover_the_world():
    def scenes(seed):
        generator = torch.Generator().manual_seed(seed)
        return [random_scene(generator) for _ in range(400)]

    assert scenes(0) == scenes(0) and scenes(0) != scenes(1)
    drawn = scenes(0)
    assert {s.colour for s in drawn} == set(COLOURS) and {s.shape for s in drawn} == set(SHAPES)
    assert {s.position for s in drawn} == set(POSITIONS)


def test_a_prompt_outside_the_world_names_nothing():
    assert prompt_scene("a photo of a fox in the snow") == (None, None, None)
    assert prompt_scene("Blue square, bottom right.") == ("blue", "square", "bottom right")
