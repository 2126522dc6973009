"""Local load management (SPEC §Local load management): sharing one grid connection in a group."""
