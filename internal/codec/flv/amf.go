package flv

import (
	"encoding/binary"
	"math"
)

// AMF0 type markers (AMF0 File Format Specification, 2.1) used by the
// onMetaData script tag.
const (
	amf0Number    = 0x00
	amf0Boolean   = 0x01
	amf0String    = 0x02
	amf0ECMAArray = 0x08
	amf0ObjectEnd = 0x09
)

// appendAMF0Key appends an object/ECMA-array property name: a UTF-8 string
// without type marker. Keys are package constants, always shorter than 64 KiB.
func appendAMF0Key(dst []byte, k string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(k)))
	return append(dst, k...)
}

// appendAMF0String appends a string-marker value. Only used with short
// package constants (a long string would need the long-string marker).
func appendAMF0String(dst []byte, s string) []byte {
	dst = append(dst, amf0String)
	return appendAMF0Key(dst, s)
}

func appendAMF0Number(dst []byte, v float64) []byte {
	dst = append(dst, amf0Number)
	return binary.BigEndian.AppendUint64(dst, math.Float64bits(v))
}

func appendAMF0Bool(dst []byte, v bool) []byte {
	var b byte
	if v {
		b = 1
	}
	return append(dst, amf0Boolean, b)
}
