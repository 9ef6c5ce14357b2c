// A std::vector handed to numpy without a copy: the array owns the vector
// through a capsule, which frees it when numpy frees the array. GIL held.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <utility>
#include <vector>

#include "bindings.hpp"

namespace inferloop::python {

template <typename T>
nanobind::object to_numpy(std::vector<T>&& values, std::initializer_list<std::size_t> shape) {
  namespace nb = nanobind;
  auto* owned = new std::vector<T>(std::move(values));
  nb::capsule owner(owned, [](void* pointer) noexcept { delete static_cast<std::vector<T>*>(pointer); });
  return nb::cast(nb::ndarray<nb::numpy, T>(owned->data(), shape.size(), shape.begin(), owner));
}

}  // namespace inferloop::python
