from polywheel.entry import main

# Guarded: `polywheel build` starts worker processes with the spawn method, which
# imports this module again under another name.
if __name__ == "__main__":
    raise SystemExit(main())
