// The Discord adapter: built under its issue. This file keeps the empty project buildable.
