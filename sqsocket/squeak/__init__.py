"""squeak"""
