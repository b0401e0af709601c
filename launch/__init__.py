"""The roof: the `vaxcert` command, `serve`, `demo` and the test/benchmark stack.

The only package that knows every service. It starts each service's app factory by name
(:mod:`launch.surfaces`); services never import each other or this package.
"""
